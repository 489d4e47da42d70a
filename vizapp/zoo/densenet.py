"""DenseNet: dense blocks whose layers each add ``growth_rate`` channels to everything before
them (X = cat(X, layer(X))), transitions that compress channels and halve H×W.

``densenet`` is the d2l network of seed 000 (growth 32, four blocks of 4 layers, BN-ReLU-3×3
conv layers with bias, 1×96×96); ``densenet121/169/201`` are DenseNet-BC (a 1×1 bottleneck to
4·k channels before each 3×3, compression 0.5, no conv bias) with torchvision's parameter counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import BaseConfig, ConfigError, knob
from .layers import seq
from .registry import Family, Preset, register_family, register_preset
from vizapp.i18n import msg


def conv_block(in_channels: int, growth: int, bottleneck: bool, bias: bool) -> nn.Sequential:
    """BN-ReLU-3×3 conv producing ``growth`` channels (DenseNet-BC: BN-ReLU-1×1 conv to 4·k
    first)."""
    if not bottleneck:
        return seq(("bn", nn.BatchNorm2d(in_channels)), ("relu", nn.ReLU()),
                   ("conv", nn.Conv2d(in_channels, growth, 3, padding=1, bias=bias)))
    mid = 4 * growth
    return seq(("bn1", nn.BatchNorm2d(in_channels)), ("relu1", nn.ReLU()),
               ("conv1", nn.Conv2d(in_channels, mid, 1, bias=bias)),
               ("bn2", nn.BatchNorm2d(mid)), ("relu2", nn.ReLU()),
               ("conv2", nn.Conv2d(mid, growth, 3, padding=1, bias=bias)))


class DenseBlock(nn.Module):
    """``num_convs`` conv blocks; each one's output is concatenated to its input on the
    channel axis, so the block outputs in_channels + num_convs·growth channels."""

    def __init__(self, num_convs: int, in_channels: int, growth: int, bottleneck: bool = False,
                 bias: bool = True):
        super().__init__()
        self.net = nn.ModuleList(conv_block(in_channels + i * growth, growth, bottleneck, bias)
                                 for i in range(num_convs))
        self.out_channels = in_channels + num_convs * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.net:
            y = blk(x)
            x = torch.cat((x, y), dim=1)
        return x


def transition_block(in_channels: int, out_channels: int, bias: bool) -> nn.Sequential:
    """BN-ReLU-1×1 conv (compress channels) and a 2×2 average pool (halve H and W)."""
    return seq(("bn", nn.BatchNorm2d(in_channels)), ("relu", nn.ReLU()),
               ("conv", nn.Conv2d(in_channels, out_channels, 1, bias=bias)),
               ("pool", nn.AvgPool2d(kernel_size=2, stride=2)))


@dataclass(frozen=True)
class DenseNetConfig(BaseConfig):
    height: int = knob(96, min=1, max=4096, step=1, group="input", help="Input height in pixels.")
    width: int = knob(96, min=1, max=4096, step=1, group="input", help="Input width in pixels.")
    growth_rate: int = knob(32, min=1, max=256, step=1,
                            help="k: channels each layer adds. A dense block of L layers turns "
                                 "c₀ channels into c₀ + L·k.")
    blocks: tuple[int, ...] = knob((4, 4, 4, 4), min=1, max=64, min_len=1, max_len=8,
                                   label="layers per dense block",
                                   help="Conv layers per dense block, e.g. 4,4,4,4 (d2l) or "
                                        "6,12,24,16 (DenseNet-121).")
    init_channels: int = knob(64, min=1, max=1024, step=8,
                              help="Channels of the 7×7 stem convolution (c₀ of the first "
                                   "dense block).")
    compression: float = knob(0.5, min=0.05, max=1.0, step=0.05,
                              help="Transition layers keep ⌊C·compression⌋ channels "
                                   "(0.5 = halve, 1.0 = keep all).")
    bottleneck: bool = knob(False, help="DenseNet-BC: a 1×1 conv to 4·k channels before each "
                                        "3×3 conv.")
    conv_bias: bool = knob(True, help="Give convolutions a bias, as the seed does (torchvision "
                                      "does not).")

    def validate(self) -> None:
        super().validate()
        if sum(self.blocks) > MAX_TOTAL_LAYERS:
            raise ConfigError(msg("blocks adds up to {n} dense layers; use at most {max} "
                                  "(DenseNet-264 has 130)", n=sum(self.blocks),
                                  max=MAX_TOTAL_LAYERS), "blocks")
        if not 0 < self.compression <= 1:
            raise ConfigError(msg("compression must be in (0, 1], got {value}",
                                  value=self.compression), "compression")


MAX_TOTAL_LAYERS = 200


def build(cfg: DenseNetConfig) -> nn.Sequential:
    c = cfg.init_channels
    mods: list[tuple[str, nn.Module]] = [
        ("conv", nn.Conv2d(cfg.in_channels, c, 7, stride=2, padding=3, bias=cfg.conv_bias)),
        ("bn", nn.BatchNorm2d(c)), ("relu", nn.ReLU()),
        ("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]
    for i, n in enumerate(cfg.blocks):
        db = DenseBlock(n, c, cfg.growth_rate, cfg.bottleneck, cfg.conv_bias)
        mods.append((f"dense_block_{i}", db))
        c = db.out_channels
        if i != len(cfg.blocks) - 1:
            out = max(1, int(c * cfg.compression))
            mods.append((f"transition_{i}", transition_block(c, out, cfg.conv_bias)))
            c = out
    mods += [("bn_final", nn.BatchNorm2d(c)), ("relu_final", nn.ReLU()),
             ("global_avg_pool", nn.AdaptiveAvgPool2d((1, 1))),
             ("fc", seq(("flatten", nn.Flatten()), ("linear", nn.Linear(c, cfg.num_classes))))]
    return seq(*mods)


register_family(Family("densenet", "DenseNet", DenseNetConfig, build,
                       "DenseNet (Huang et al., 2016): every layer sees the concatenation of "
                       "all earlier feature maps.", default_preset="densenet",
                       compare_variant=("growth_rate", 12, 32), seed_code=True))
register_preset(Preset("densenet", "densenet", DenseNetConfig(),
                       "d2l DenseNet, growth 32, blocks 4,4,4,4, 1×1×96×96 (seed 000)", "000"))
_BC = dict(bottleneck=True, conv_bias=False, in_channels=3, height=224, width=224,
           num_classes=1000)
register_preset(Preset("densenet121", "densenet", DenseNetConfig(blocks=(6, 12, 24, 16), **_BC),
                       "DenseNet-121 (BC, growth 32), 3×224×224, 1000 classes"))
register_preset(Preset("densenet169", "densenet", DenseNetConfig(blocks=(6, 12, 32, 32), **_BC),
                       "DenseNet-169 (BC, growth 32), 3×224×224, 1000 classes"))
register_preset(Preset("densenet201", "densenet", DenseNetConfig(blocks=(6, 12, 48, 32), **_BC),
                       "DenseNet-201 (BC, growth 32), 3×224×224, 1000 classes"))
