"""The CLI contract: `vizapp presets` and `vizapp table` (names, fields, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vizapp.cli import main
from vizapp.zoo import presets


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vizapp.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_presets_one_name_per_line(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert [ln for ln in lines if ln] == list(presets())
    for required in ("lenet", "lenet-bn", "alexnet", "vgg11", "nin", "googlenet", "resnet18",
                     "resnet50", "resnet101", "resnet152", "densenet"):
        assert required in lines


def test_table_json_contract(capsys):
    assert main(["table", "lenet", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["input_shape"] == [1, 1, 28, 28]
    assert d["total_params"] == 61706  # 156 + 2416 + 48120 + 10164 + 850, each by its formula
    assert isinstance(d["total_macs"], int) and d["total_macs"] > 0
    assert [r["output_shape"] for r in d["rows"]][:3] == [[1, 6, 28, 28], [1, 6, 28, 28],
                                                          [1, 6, 14, 14]]
    for r in d["rows"]:
        assert set(r) >= {"name", "type", "depth", "output_shape", "params", "macs",
                          "receptive_field", "explanation"}
        assert r["depth"] == 1


def test_table_knobs_batch_and_depth(capsys):
    assert main(["table", "densenet", "--set", "growth_rate=16", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    first_block = [r for r in d["rows"] if r["type"] == "DenseBlock"][0]
    assert first_block["output_shape"][1] == 64 + 4 * 16
    assert main(["table", "resnet18", "--batch", "4", "--input", "3,64,64", "--depth", "2",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["input_shape"] == [4, 3, 64, 64]
    assert max(r["depth"] for r in d["rows"]) == 2


def test_table_text_looks_like_the_seed(capsys):
    assert main(["table", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "torch.Size([1, 512, 7, 7])" in out and "torch.Size([1, 10])" in out


def test_table_csv(capsys):
    assert main(["table", "lenet", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("name,type,depth,output_shape")
    assert lines[1].startswith("conv1,Conv2d,1,1x6x28x28,156,")


@pytest.mark.parametrize("args,needle", [
    (["table", "nosuchnet"], "unknown model 'nosuchnet'"),
    (["table", "resnet18", "--set", "nosuchknob=1"], "unknown knob 'nosuchknob'"),
    (["table", "resnet18", "--set", "blocks=2,0,2,2"], "blocks"),
    (["table", "densenet", "--set", "growth_rate=-3"], "growth"),
    (["table", "lenet", "--input", "1,28"], "--input takes C,H,W"),
    (["table", "alexnet", "--input", "1,28,28"], "smallest square input"),
])
def test_bad_input_exit_2_one_line_no_traceback(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, r.stderr
    assert needle in err[0]
