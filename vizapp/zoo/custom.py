"""Your own model: a family whose one architecture knob is code (the code box's language, see
:mod:`vizapp.custom`). Presets are example files in ``custom_examples/`` (data, not code)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .base import BaseConfig, ConfigError, knob
from .registry import Family, Preset, register_family, register_preset

EXAMPLES = Path(__file__).with_name("custom_examples")
CODE_HELP = ("A model in PyTorch: nn.Sequential(...), OrderedDict([...]), add_module chains, "
             "for loops, small def helpers and classes with __init__ and forward (F.relu, "
             "torch.cat, x.view …). The model is the last expression, the variable net (or "
             "model) or the last model assigned. No imports needed: nn, torch.nn, F and "
             "OrderedDict are there.")


def example(name: str) -> str:
    return (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8").strip()  # as the box reads it


@dataclass(frozen=True)
class CustomConfig(BaseConfig):
    code: str = knob("net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))", help=CODE_HELP,
                     label="Code")
    height: int = knob(28, min=1, max=4096, step=1, group="input", help="Input height in pixels.")
    width: int = knob(28, min=1, max=4096, step=1, group="input", help="Input width in pixels.")
    num_classes: int = knob(10, min=1, max=100000, step=1,
                            help="Not used by your own model: its last layer decides.")

    def validate(self) -> None:
        super().validate()
        from vizapp.custom import CodeError, summary

        try:
            summary(self.code, self.input_shape)
        except CodeError as exc:
            raise ConfigError(exc.message, "code") from None


def _encode_code(code: str) -> str:
    from vizapp.custom import CodeError, url

    try:
        return url.encode(code)
    except CodeError as exc:
        raise ConfigError(exc.reason, "code") from None


def _decode_code(text: str) -> str:
    from vizapp.custom import CodeError, url

    try:
        return url.decode(text)
    except CodeError as exc:
        raise ConfigError(exc.reason, "code") from None


def build(cfg: CustomConfig) -> nn.Module:
    from vizapp.custom import CodeError, evaluate

    try:
        return evaluate(cfg.code, cfg.input_shape)
    except CodeError as exc:
        raise ConfigError(exc.message, "code") from None


register_family(Family("custom", "Your own model", CustomConfig, build,
                       "Write the network in PyTorch; everything the zoo shows works on it.",
                       default_preset="seed003-sequential", hidden_knobs=("num_classes",),
                       link_codecs=(("code", _encode_code, _decode_code),)))
_IN = {"in_channels": 3, "height": 6, "width": 6}
for _name, _file, _input, _desc, _seed, _exercise in (
    ("seed003-sequential", "seed003_sequential", _IN,
     "Seed 003's Net2 as one nn.Sequential, 3×6×6 input", "003", False),
    ("seed003-ordereddict", "seed003_ordereddict", _IN,
     "Seed 003's Net4: named layers with OrderedDict", "003", False),
    ("seed003-add-module", "seed003_add_module", _IN,
     "Seed 003's Net3: add_module chains", "003", False),
    ("lenet-bug", "lenet_bug", {"in_channels": 1, "height": 28, "width": 28},
     "LeNet with a bug to find (1×28×28, no padding)", None, True),
    ("d2l-vgg-blocks", "d2l_vgg", {"in_channels": 1, "height": 224, "width": 224},
     "d2l's VGG with a vgg_block helper function and a for loop (widths ÷ 4)", "002", False),
    ("seed003-class", "seed003_class", _IN,
     "Seed 003's Net1: a class with __init__ and forward (F.relu, x.view)", "003", False),
    ("d2l-resnet-class", "d2l_resnet_class", {"in_channels": 1, "height": 96, "width": 96},
     "d2l's ResNet-18 with its Residual class (1×96×96)", "001", False),
):
    register_preset(Preset(_name, "custom", CustomConfig(code=example(_file), **_input), _desc,
                           _seed, exercise=_exercise))
