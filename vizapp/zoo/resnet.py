"""ResNet: the d2l basic-block network (seeds 000/002/004) and the bottleneck network of
seed 001, as one family whose variants are data: ``block`` (basic | bottleneck) and ``blocks``
(residual blocks per stage: (2, 2, 2, 2) is ResNet-18, (3, 4, 6, 3) with bottlenecks ResNet-50).

Layout (d2l names): b1 = stem (7×7/2 conv, BN, ReLU, 3×3/2 max pool), b2…b5 = the stages (the
first block of b3…b5 halves H×W with stride 2 and projects the shortcut with a 1×1 conv), then
avgpool, flatten, fc.
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


def _bn(c: int, on: bool) -> nn.Module:
    return nn.BatchNorm2d(c) if on else nn.Identity()


class Residual(nn.Module):
    """Basic block (d2l ``Residual``): two 3×3 convs; relu(bn2(conv2(relu(bn1(conv1 x)))) + x),
    with a 1×1 conv (``conv3``) on the shortcut when channels or size change."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, project: bool = False,
                 batch_norm: bool = True, bias: bool = True, shortcut_bn: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=bias)
        self.bn1 = _bn(channels, batch_norm)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=bias)
        self.bn2 = _bn(channels, batch_norm)
        self.conv3: nn.Module | None = None
        if project:
            conv = nn.Conv2d(in_channels, channels, 1, stride=stride, bias=bias)
            self.conv3 = seq(("conv", conv), ("bn", _bn(channels, batch_norm))) \
                if shortcut_bn else conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return F.relu(y + x)


class Bottleneck(nn.Module):
    """Bottleneck block (seed 001 ``block``): 1×1 reduce → 3×3 (with the stride) → 1×1
    expand ×4, plus the shortcut (a 1×1 conv + BN ``downsample`` when shapes change)."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, project: bool = False,
                 batch_norm: bool = True, bias: bool = True, shortcut_bn: bool = True):
        super().__init__()
        out = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=bias)
        self.bn1 = _bn(channels, batch_norm)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=bias)
        self.bn2 = _bn(channels, batch_norm)
        self.conv3 = nn.Conv2d(channels, out, 1, bias=bias)
        self.bn3 = _bn(out, batch_norm)
        self.relu = nn.ReLU()
        self.downsample: nn.Module | None = None
        if project:
            conv = nn.Conv2d(in_channels, out, 1, stride=stride, bias=bias)
            self.downsample = seq(("conv", conv), ("bn", _bn(out, batch_norm))) \
                if shortcut_bn else conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(y + identity)


BLOCKS = {"basic": Residual, "bottleneck": Bottleneck}


@dataclass(frozen=True)
class ResNetConfig(BaseConfig):
    block: str = knob("basic", choices=("basic", "bottleneck"),
                      help="basic: two 3×3 convs (ResNet-18/34). bottleneck: 1×1 → 3×3 → 1×1 "
                           "with ×4 channel expansion (ResNet-50/101/152).")
    blocks: tuple[int, ...] = knob((2, 2, 2, 2), min=1, max=64, min_len=1, max_len=8,
                                   label="residual blocks",
                                   help="Residual blocks per stage, e.g. 2,2,2,2 (ResNet-18) "
                                        "or 3,4,6,3 (ResNet-34/50).")
    widths: tuple[int, ...] = knob((64, 128, 256, 512), min=1, max=2048, min_len=1, max_len=8,
                                   help="Channels of each stage (before the ×4 expansion of "
                                        "bottleneck blocks). One per stage.")
    stem_channels: int = knob(64, min=1, max=1024, step=8,
                              help="Channels of the 7×7 stem convolution.")
    batch_norm: bool = knob(True, help="BatchNorm after every convolution (off: Identity).")
    conv_bias: bool = knob(True, help="Give convolutions a bias, as the seeds do. torchvision "
                                      "drops it because the following BN cancels it.")
    shortcut: str = knob("conv", choices=("conv", "conv-bn"),
                         help="Projection shortcut when shapes change: a bare 1×1 conv (d2l) "
                              "or 1×1 conv + BatchNorm (seed 001, torchvision).")

    def validate(self) -> None:
        super().validate()
        if sum(self.blocks) > MAX_TOTAL_BLOCKS:
            raise ConfigError(msg("blocks adds up to {n} residual blocks; use at most {max} "
                                  "(ResNet-152 has 50)", n=sum(self.blocks),
                                  max=MAX_TOTAL_BLOCKS), "blocks")
        if len(self.widths) != len(self.blocks):
            raise ConfigError(msg("widths needs one entry per stage: blocks has {b} stages, "
                                  "widths has {w}", b=len(self.blocks), w=len(self.widths)),
                              "widths")


MAX_TOTAL_BLOCKS = 160


def build(cfg: ResNetConfig) -> nn.Sequential:
    Block = BLOCKS[cfg.block]
    s = cfg.stem_channels
    b1 = seq(("conv", nn.Conv2d(cfg.in_channels, s, 7, stride=2, padding=3, bias=cfg.conv_bias)),
             ("bn", _bn(s, cfg.batch_norm)), ("relu", nn.ReLU()),
             ("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
    stages: list[tuple[str, nn.Module]] = [("b1", b1)]
    cin = s
    for i, (n, w) in enumerate(zip(cfg.blocks, cfg.widths)):
        layers = []
        for j in range(n):
            stride = 2 if (j == 0 and i > 0) else 1
            project = j == 0 and (stride != 1 or cin != w * Block.expansion)
            layers.append(Block(cin, w, stride, project, cfg.batch_norm, cfg.conv_bias,
                                cfg.shortcut == "conv-bn"))
            cin = w * Block.expansion
        stages.append((f"b{i + 2}", nn.Sequential(*layers)))
    return seq(*stages, ("avgpool", nn.AdaptiveAvgPool2d((1, 1))), ("flatten", nn.Flatten()),
               ("fc", nn.Linear(cin, cfg.num_classes)))


register_family(Family("resnet", "ResNet", ResNetConfig, build,
                       "ResNet (He et al., 2015): stages of residual blocks, y = F(x) + x.",
                       default_preset="resnet18", seed_code=True))
register_preset(Preset("resnet18", "resnet", ResNetConfig(),
                       "d2l ResNet-18, 1×1×224×224, 10 classes (seeds 000/002/004)", "002",
                       compare_with="resnet50"))
register_preset(Preset("resnet34", "resnet", ResNetConfig(blocks=(3, 4, 6, 3)),
                       "ResNet-34 layout in the d2l style, 1×1×224×224, 10 classes",
                       compare_with="resnet50"))
_SEED001 = dict(block="bottleneck", in_channels=3, batch=2, num_classes=1000, shortcut="conv-bn")
register_preset(Preset("resnet50", "resnet", ResNetConfig(blocks=(3, 4, 6, 3), **_SEED001),
                       "ResNet-50 (bottleneck, seed 001), 2×3×224×224, 1000 classes", "001",
                       compare_with="resnet101"))
register_preset(Preset("resnet101", "resnet", ResNetConfig(blocks=(3, 4, 23, 3), **_SEED001),
                       "ResNet-101 (bottleneck, seed 001), 2×3×224×224, 1000 classes", "001",
                       compare_with="resnet152"))
register_preset(Preset("resnet152", "resnet", ResNetConfig(blocks=(3, 8, 36, 3), **_SEED001),
                       "ResNet-152 (bottleneck, seed 001), 2×3×224×224, 1000 classes", "001",
                       compare_with="resnet101"))
