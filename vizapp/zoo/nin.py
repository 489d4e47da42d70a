"""Network in Network as in d2l (seed 002): conv blocks of one k×k conv and two 1×1 convs,
max pools between them, and a final block with one channel per class followed by global
average pooling — no Linear layer at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .base import BaseConfig, knob
from .layers import seq
from .registry import Family, Preset, register_family, register_preset


@dataclass(frozen=True)
class NiNConfig(BaseConfig):
    channels: tuple[int, ...] = knob((96, 256, 384), min=1, max=4096, min_len=3, max_len=3,
                                     help="Output channels of the first three NiN blocks (the "
                                          "last block outputs one channel per class).")
    dropout: float = knob(0.5, min=0.0, max=0.95, step=0.05,
                          help="Dropout probability before the last NiN block.")


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int,
              padding: int) -> nn.Sequential:
    return seq(("conv", nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)),
               ("relu", nn.ReLU()),
               ("conv1x1_a", nn.Conv2d(out_channels, out_channels, kernel_size=1)),
               ("relu_a", nn.ReLU()),
               ("conv1x1_b", nn.Conv2d(out_channels, out_channels, kernel_size=1)),
               ("relu_b", nn.ReLU()))


def build(cfg: NiNConfig) -> nn.Sequential:
    c1, c2, c3 = cfg.channels
    return seq(("nin1", nin_block(cfg.in_channels, c1, 11, 4, 0)),
               ("pool1", nn.MaxPool2d(3, stride=2)),
               ("nin2", nin_block(c1, c2, 5, 1, 2)),
               ("pool2", nn.MaxPool2d(3, stride=2)),
               ("nin3", nin_block(c2, c3, 3, 1, 1)),
               ("pool3", nn.MaxPool2d(3, stride=2)),
               ("dropout", nn.Dropout(cfg.dropout)),
               ("nin4", nin_block(c3, cfg.num_classes, 3, 1, 1)),
               ("gap", nn.AdaptiveAvgPool2d((1, 1))),
               ("flatten", nn.Flatten()))


register_family(Family("nin", "NiN", NiNConfig, build,
                       "Network in Network (Lin et al., 2013) as in d2l: 1×1 convolutions as "
                       "per-pixel MLPs and global average pooling instead of Linear layers.",
                       default_preset="nin"))
register_preset(Preset("nin", "nin", NiNConfig(), "d2l NiN, 1×1×224×224 (seed 002)", "002",
                       compare_with="alexnet"))
