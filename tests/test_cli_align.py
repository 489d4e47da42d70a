"""``vizapp table``'s text columns align: every row's cells start (left-aligned columns) or end
(right-aligned numbers) at the header's offsets, whatever the widths of names, shapes, params."""

from __future__ import annotations

import re

import pytest

from vizapp.cli import main

CELL = re.compile(r"\S+(?: \S+)*")  # cells are separated by two or more spaces


@pytest.mark.parametrize("args", [["googlenet"], ["resnet18", "--depth", "2"],
                                  ["densenet", "--depth", "99"], ["lenet"],
                                  ["resnet50", "--input", "3,64,64"]])
def test_every_row_starts_its_columns_at_the_same_offsets(capsys, args) -> None:
    assert main(["table", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = [(m.start(), m.end(), m.group()) for m in CELL.finditer(lines[1])]
    assert [h[2] for h in head] == ["name", "type", "output shape", "params", "MACs", "RF"]
    rows = [ln for ln in lines[2:] if not ln.startswith(("total params", "note", "not counted"))]
    assert len(rows) >= 6
    for ln in rows:
        cells = [(m.start(), m.end(), m.group()) for m in CELL.finditer(ln)]
        assert len(cells) in (5, 6), ln  # RF may be empty (flat outputs)
        assert cells[1][0] == head[1][0], ln  # type
        assert cells[2][0] == head[2][0] and cells[2][2].startswith("torch.Size("), ln
        assert cells[3][1] == head[3][1] and cells[4][1] == head[4][1], ln  # numbers end together
        if len(cells) == 6:
            assert cells[5][0] == head[5][0] and cells[5][2].isdigit(), ln
