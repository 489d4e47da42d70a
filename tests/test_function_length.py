"""No function in vizapp/ or components/ is longer than MAX_LINES lines unless its docstring
says why, on a line with "long because" (or "longer than … on purpose"): a page's render reads
its inputs, has vizapp compute and draws, each step a function of its own."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60  # from the ``def`` line to the last line of the body


def has_reason(doc: str | None) -> bool:
    """Whether a docstring gives the reason a function is long."""
    for line in (doc or "").lower().splitlines():
        if "long because" in line or ("longer than" in line and "on purpose" in line):
            return True
    return False


def long_functions(root: Path = ROOT) -> list[str]:
    """``path:line name (n lines)`` of every over-long function without a reason."""
    found = []
    for base in ("vizapp", "components"):
        for path in sorted((root / base).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                n = node.end_lineno - node.lineno + 1
                if n > MAX_LINES and not has_reason(ast.get_docstring(node)):
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} "
                                 f"({n} lines)")
    return found


def test_no_function_over_60_lines_without_a_reason():
    assert long_functions() == [], (
        "split these into read inputs → compute (in vizapp/) → draw, or say in the docstring "
        "why the function is long ('long because …')")


def test_the_rule_reads_reasons_and_counts_lines(tmp_path):
    def body(n: int) -> str:
        return "\n".join(f"    x{i} = {i}" for i in range(n))

    (tmp_path / "vizapp").mkdir()
    (tmp_path / "components").mkdir()
    (tmp_path / "vizapp" / "a.py").write_text(
        f"def at_the_limit():\n{body(MAX_LINES - 1)}\n\n"  # lines 1-60
        f"def one_over():\n{body(MAX_LINES)}\n\n"  # lines 62-122
        f'def explained():\n    """Long because it is a table."""\n{body(MAX_LINES)}\n')
    assert long_functions(tmp_path) == ["vizapp/a.py:62 one_over (61 lines)"]
    assert has_reason("Longer than most functions here on purpose: one graph.")
    assert not has_reason("A long docstring that gives no reason.")
