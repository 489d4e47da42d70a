"""Inputs that used to slip through validation (issue 15 item 5, issue 11's fuzzing finds) and
CLI messages that were not one line (issue 15 item 6)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from vizapp.cli import main
from vizapp.zoo import ConfigError, resolve

ROOT = Path(__file__).resolve().parents[1]
GOOD_BLOCK = [64, [96, 128], [16, 32], 32]

JUNK_INCEPTION = [0, 1.5, True, "abc", float("inf"), None, [], [[1]], "0", "true", "1.5",
                  "\"abc\"", "[[[1e400]]]", "nan", "[" * 3000 + "]" * 3000,
                  "[[[1,[1,1],[1,1],1e400]],[[1,[1,1],[1,1],1]],[[1,[1,1],[1,1],1]]]",
                  [[GOOD_BLOCK], [GOOD_BLOCK], [[64, [96, 128], [16, 32], True]]],
                  [[GOOD_BLOCK], [GOOD_BLOCK], [[64, [96, "x"], [16, 32], 32]]],
                  [[GOOD_BLOCK]] * 2 + [[GOOD_BLOCK] * 17],
                  ((1, (1, 1), (1, 1), 1),) * 3]


@pytest.mark.parametrize("value", JUNK_INCEPTION, ids=lambda v: repr(v)[:30])
def test_googlenet_inception_junk_is_a_config_error(value):
    with pytest.raises(ConfigError) as ei:
        resolve("googlenet", {"inception": value})
    assert ei.value.knob == "inception"
    assert len(ei.value.message) < 300 and "\n" not in ei.value.message


@pytest.mark.parametrize("family,knob,value", [
    ("alexnet", "dropout", "nan"), ("alexnet", "dropout", float("nan")),
    ("vgg", "dropout", "inf"), ("nin", "dropout", float("-inf")),
    ("densenet", "compression", "nan"), ("lenet", "height", 1.5), ("lenet", "height", True),
    ("lenet", "height", [28]), ("lenet", "height", 2 ** 40), ("lenet", "batch", 2 ** 40),
    ("lenet", "activation", ["relu"]), ("lenet", "batch_norm", "maybe"),
    ("vgg", "conv_arch", ((1, float("inf")),)), ("resnet", "blocks", "64,64,64"),
    ("densenet", "blocks", "64,64,64,64"), ("resnet", "widths", "4096,4096,4096,4096"),
])
def test_non_finite_wrong_typed_and_oversized_knobs_are_refused(family, knob, value):
    with pytest.raises(ConfigError) as ei:
        resolve(family, {knob: value})
    assert ei.value.knob == knob


def test_an_input_that_cannot_exist_is_refused_naming_a_batch_that_can():
    with pytest.raises(ConfigError, match="use a batch of 4096 or less") as ei:
        resolve("resnet50", {"batch": 65536})
    assert ei.value.knob == "batch"
    with pytest.raises(ConfigError, match="at most 4096"):
        resolve("lenet", {"height": 2 ** 40, "width": 2 ** 40})


def test_lesson_sized_models_still_resolve():
    assert resolve("resnet", {"blocks": "3,8,36,3"}).config.blocks == (3, 8, 36, 3)
    assert sum(resolve("densenet", {"blocks": "6,12,64,48"}).config.blocks) == 130
    assert math.isclose(resolve("alexnet", {"dropout": "0.25"}).config.dropout, 0.25)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vizapp.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args", [("table", "lenet", "--batch", "x"),
                                  ("table", "lenet", "--depth", "1.5"),
                                  ("bn", "lenet-bn", "--batch", "two"),
                                  ("frobnicate",)])
def test_bad_arguments_are_one_line(args, capsys):
    with pytest.raises(SystemExit) as ei:
        main(list(args))
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "usage:" not in err and "error:" in err, err


@pytest.mark.parametrize("args", [("run", "alexnet", "--set", "dropout=nan", "--iters", "1"),
                                  ("table", "googlenet", "--set", "inception=0"),
                                  ("table", "googlenet", "--set", "inception=[[[1e400]]]")])
def test_bad_values_end_in_one_line(args, capsys):
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
