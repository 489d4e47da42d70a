"""GoogLeNet as in d2l (seed 002): a stem, nine Inception blocks in three stages, global
average pooling and one Linear layer. Each Inception block's four branch widths are data:
(c1, (c2 reduce, c2), (c3 reduce, c3), c4), and its output has c1 + c2 + c3 + c4 channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import BaseConfig, ConfigError, knob
from .layers import seq
from .registry import Family, Preset, register_family, register_preset
from vizapp.i18n import msg

# (c1, (c2a, c2b), (c3a, c3b), c4) per Inception block, grouped by stage (b3, b4, b5)
D2L_INCEPTION = (
    ((64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)),
    ((192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64),
     (128, (128, 256), (24, 64), 64), (112, (144, 288), (32, 64), 64),
     (256, (160, 320), (32, 128), 128)),
    ((256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)),
)


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: 1×1 | 1×1→3×3 | 1×1→5×5 |
    3×3 max pool→1×1."""

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int],
                 c4: int):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def _out(spec: tuple) -> int:
    c1, c2, c3, c4 = spec
    return c1 + c2[1] + c3[1] + c4


@dataclass(frozen=True)
class GoogLeNetConfig(BaseConfig):
    height: int = knob(96, min=1, max=4096, step=1, group="input", help="Input height in pixels.")
    width: int = knob(96, min=1, max=4096, step=1, group="input", help="Input width in pixels.")
    inception: tuple = knob(
        D2L_INCEPTION,
        help="Inception blocks per stage (b3, b4, b5); each block is (c1, (c2 reduce, c2), "
             "(c3 reduce, c3), c4) and outputs c1 + c2 + c3 + c4 channels.")
    stem_channels: int = knob(64, min=1, max=1024, step=8,
                              help="Channels of the 7×7 stem convolution (b1).")

    def validate(self) -> None:
        super().validate()
        stages = self.inception
        if not (isinstance(stages, tuple) and len(stages) == 3 and all(
                isinstance(st, tuple) and 1 <= len(st) <= MAX_BLOCKS for st in stages)):
            raise ConfigError(msg("inception needs three stages (b3, b4, b5) of 1 to {max} "
                                  "blocks each, e.g. {example}", max=MAX_BLOCKS,
                                  example=_EXAMPLE), "inception")
        for s, stage in enumerate(stages, 3):
            for j, blk in enumerate(stage, 1):
                _check_block(blk, msg("inception block {j} of b{s}", j=j, s=s))


MAX_BLOCKS = 16  # Inception blocks per stage (d2l's GoogLeNet has 2, 5, 2)
MAX_WIDTH = 4096  # channels of one branch (as the other families)
_EXAMPLE = "[64, [96, 128], [16, 32], 32]"


def _is_width(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_block(blk: object, where: str) -> None:
    """One block must be (c1, (c2 reduce, c2), (c3 reduce, c3), c4) of integer widths."""
    ok = (isinstance(blk, tuple) and len(blk) == 4
          and all(isinstance(p, tuple) and len(p) == 2 for p in blk[1:3]))
    widths = [blk[0], *blk[1], *blk[2], blk[3]] if ok else []
    if not ok or not all(_is_width(c) for c in widths):
        text = str(blk)
        text = text if len(text) <= 60 else text[:59] + "…"
        raise ConfigError(msg("{where} must look like [c1, [c2 reduce, c2], [c3 reduce, c3], "
                              "c4] of whole numbers, e.g. {example} (got {text})", where=where,
                              example=_EXAMPLE, text=text), "inception")
    if min(widths) < 1 or max(widths) > MAX_WIDTH:
        raise ConfigError(msg("every branch of {where} needs 1 to {max} channels (got {blk})",
                              where=where, max=MAX_WIDTH, blk=str(blk)), "inception")


def build(cfg: GoogLeNetConfig) -> nn.Sequential:
    s = cfg.stem_channels
    b1 = seq(("conv", nn.Conv2d(cfg.in_channels, s, kernel_size=7, stride=2, padding=3)),
             ("relu", nn.ReLU()),
             ("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
    b2 = seq(("conv1", nn.Conv2d(s, 64, kernel_size=1)), ("relu1", nn.ReLU()),
             ("conv2", nn.Conv2d(64, 3 * 64, kernel_size=3, padding=1)), ("relu2", nn.ReLU()),
             ("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
    cin = 3 * 64
    stages = []
    for i, stage in enumerate(cfg.inception):
        mods: list[tuple[str, nn.Module]] = []
        for j, spec in enumerate(stage):
            mods.append((str(j), Inception(cin, *spec)))
            cin = _out(spec)
        if i < 2:
            mods.append(("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
        else:
            mods += [("gap", nn.AdaptiveAvgPool2d((1, 1))), ("flatten", nn.Flatten())]
        stages.append(seq(*mods))
    return seq(("b1", b1), ("b2", b2), ("b3", stages[0]), ("b4", stages[1]), ("b5", stages[2]),
               ("fc", nn.Linear(cin, cfg.num_classes)))


register_family(Family("googlenet", "GoogLeNet", GoogLeNetConfig, build,
                       "GoogLeNet (Szegedy et al., 2014) as in d2l: Inception blocks of four "
                       "parallel branches, concatenated.", default_preset="googlenet",
                       seed_code=True))
register_preset(Preset("googlenet", "googlenet", GoogLeNetConfig(),
                       "d2l GoogLeNet, 1×1×96×96 (seed 002)", "002", compare_with="resnet18"))
