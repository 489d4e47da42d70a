"""AlexNet as in d2l (seed 002), for 1×224×224 inputs and 10 classes.

Five convolutions (11×11 stride 4, 5×5, three 3×3) with three 3×3 stride-2 max pools, then
three Linear layers with dropout. The first Linear's in_features is derived from the input
(256·5·5 = 6400 for 224×224).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .base import BaseConfig, knob
from .layers import ACTIVATIONS, first_linear, fit_input_knob, seq
from .registry import Family, Preset, register_family, register_preset


@dataclass(frozen=True)
class AlexNetConfig(BaseConfig):
    channels: tuple[int, ...] = knob((96, 256, 384, 384, 256), min=1, max=4096, min_len=5,
                                     max_len=5, help="Output channels of the five convolutions.")
    hidden: int = knob(4096, min=1, max=65536, step=256,
                       help="Units of the two hidden Linear layers.")
    dropout: float = knob(0.5, min=0.0, max=0.95, step=0.05,
                          help="Dropout probability after each hidden Linear layer.")
    activation: str = knob("relu", choices=("relu", "sigmoid", "tanh"),
                           help="Non-linearity after each conv and hidden Linear.")
    batch_norm: bool = knob(False, help="Insert BatchNorm2d after each convolution.")
    fit_input: bool = fit_input_knob()


def build(cfg: AlexNetConfig) -> nn.Sequential:
    act = ACTIVATIONS[cfg.activation]
    c = cfg.channels
    specs = [  # (in, out, kernel, stride, padding, pool after?)
        (cfg.in_channels, c[0], 11, 4, 1, True),
        (c[0], c[1], 5, 1, 2, True),
        (c[1], c[2], 3, 1, 1, False),
        (c[2], c[3], 3, 1, 1, False),
        (c[3], c[4], 3, 1, 1, True),
    ]
    feats: list[tuple[str, nn.Module]] = []
    pools = 0
    for i, (cin, cout, k, s, p, pool) in enumerate(specs, 1):
        feats.append((f"conv{i}", nn.Conv2d(cin, cout, kernel_size=k, stride=s, padding=p)))
        if cfg.batch_norm:
            feats.append((f"bn{i}", nn.BatchNorm2d(cout)))
        feats.append((f"relu{i}" if cfg.activation == "relu" else f"act{i}", act()))
        if pool:
            pools += 1
            feats.append((f"pool{pools}", nn.MaxPool2d(kernel_size=3, stride=2)))
    a = "relu" if cfg.activation == "relu" else "act"
    head = [("flatten", nn.Flatten()),
            ("fc1", first_linear(seq(*feats), cfg, cfg.hidden)), (f"{a}6", act()),
            ("dropout1", nn.Dropout(p=cfg.dropout)),
            ("fc2", nn.Linear(cfg.hidden, cfg.hidden)), (f"{a}7", act()),
            ("dropout2", nn.Dropout(p=cfg.dropout)),
            ("fc3", nn.Linear(cfg.hidden, cfg.num_classes))]
    return seq(*feats, *head)


register_family(Family("alexnet", "AlexNet", AlexNetConfig, build,
                       "AlexNet (Krizhevsky et al., 2012) as in d2l: 5 convs, 3 max pools, "
                       "3 Linear layers with dropout.", default_preset="alexnet"))
register_preset(Preset("alexnet", "alexnet", AlexNetConfig(),
                       "d2l AlexNet, 1×1×224×224 (seed 002)", "002", compare_with="vgg11"))
