"""VGG as in d2l (seed 002): blocks of 3×3 convolutions + a 2×2 max pool, given as data.

``conv_arch`` lists (number of convs, output channels) per block; VGG-11 is
((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)). Each block halves H and W, so 224×224 ends
at 7×7 and the first Linear takes 512·7·7 = 25088 features (derived from the input).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .base import BaseConfig, ConfigError, knob
from .layers import first_linear, fit_input_knob, seq
from .registry import Family, Preset, register_family, register_preset
from vizapp.i18n import msg

VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
VGG16 = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


@dataclass(frozen=True)
class VGGConfig(BaseConfig):
    conv_arch: tuple[tuple[int, int], ...] = knob(
        VGG11, min=1, max=2048, min_len=1, max_len=8,
        help="One (convs × channels) pair per block, e.g. 1x64,1x128,2x256,2x512,2x512 "
             "(VGG-11). Every block ends with a 2×2 max pool that halves H and W.")
    hidden: int = knob(4096, min=1, max=65536, step=256,
                       help="Units of the two hidden Linear layers.")
    dropout: float = knob(0.5, min=0.0, max=0.95, step=0.05,
                          help="Dropout probability after each hidden Linear layer.")
    batch_norm: bool = knob(False, help="Insert BatchNorm2d after each convolution.")

    def validate(self) -> None:
        super().validate()
        for i, (convs, ch) in enumerate(self.conv_arch, 1):
            if convs > 8:
                raise ConfigError(msg("conv_arch block {i} has {n} convolutions; use at most 8 "
                                      "per block", i=i, n=convs), "conv_arch")
    fit_input: bool = fit_input_knob()


def vgg_block(num_convs: int, in_channels: int, out_channels: int,
              batch_norm: bool) -> nn.Sequential:
    layers: list[tuple[str, nn.Module]] = []
    for i in range(1, num_convs + 1):
        layers.append((f"conv{i}", nn.Conv2d(in_channels, out_channels, kernel_size=3,
                                             padding=1)))
        if batch_norm:
            layers.append((f"bn{i}", nn.BatchNorm2d(out_channels)))
        layers.append((f"relu{i}", nn.ReLU()))
        in_channels = out_channels
    layers.append(("pool", nn.MaxPool2d(kernel_size=2, stride=2)))
    return seq(*layers)


def build(cfg: VGGConfig) -> nn.Sequential:
    blocks: list[tuple[str, nn.Module]] = []
    cin = cfg.in_channels
    for i, (convs, cout) in enumerate(cfg.conv_arch, 1):
        blocks.append((f"block{i}", vgg_block(convs, cin, cout, cfg.batch_norm)))
        cin = cout
    head = [("flatten", nn.Flatten()),
            ("fc1", first_linear(seq(*blocks), cfg, cfg.hidden)), ("relu1", nn.ReLU()),
            ("dropout1", nn.Dropout(cfg.dropout)),
            ("fc2", nn.Linear(cfg.hidden, cfg.hidden)), ("relu2", nn.ReLU()),
            ("dropout2", nn.Dropout(cfg.dropout)),
            ("fc3", nn.Linear(cfg.hidden, cfg.num_classes))]
    return seq(*blocks, *head)


register_family(Family("vgg", "VGG", VGGConfig, build,
                       "VGG (Simonyan & Zisserman, 2014) as in d2l: repeated 3×3 conv blocks "
                       "described by conv_arch.", default_preset="vgg11"))
register_preset(Preset("vgg11", "vgg", VGGConfig(), "d2l VGG-11, 1×1×224×224 (seed 002)", "002",
                       compare_with="vgg16"))
register_preset(Preset("vgg16", "vgg", VGGConfig(conv_arch=VGG16, in_channels=3, num_classes=1000),
                       "VGG-16 layout (13 convs), 3×224×224, 1000 classes",
                       compare_with="vgg11"))
