"""LeNet-5 as in d2l (seed 002): two 5×5 conv/pool stages and three Linear layers.

``lenet`` reproduces the seed's sigmoid/avg-pool network on 1×1×28×28 (conv1 padding 2);
``lenet-bn`` is the seed's BatchNorm variant (padding 0, BN after every conv/linear, batch 2).
The first Linear's in_features is derived from the input size (16·5·5 = 400 for 28×28).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .base import BaseConfig, knob
from .layers import ACTIVATIONS, POOLS, first_linear, fit_input_knob, seq
from .registry import Family, Preset, register_family, register_preset


@dataclass(frozen=True)
class LeNetConfig(BaseConfig):
    in_channels: int = knob(1, min=1, max=64, step=1, group="input",
                            help="Channels of the input image (1 = grey, 3 = RGB).")
    height: int = knob(28, min=1, max=4096, step=1, group="input", help="Input height in pixels.")
    width: int = knob(28, min=1, max=4096, step=1, group="input", help="Input width in pixels.")
    activation: str = knob("sigmoid", choices=("sigmoid", "relu", "tanh"),
                           help="Non-linearity after each conv and hidden Linear. LeNet used "
                                "sigmoid; ReLU trains much faster.")
    pooling: str = knob("avg", choices=("avg", "max"),
                        help="2×2 stride-2 pooling after each conv: average (LeNet) or max.")
    batch_norm: bool = knob(False, help="Insert BatchNorm2d after each conv and BatchNorm1d "
                                        "after each hidden Linear (before the activation).")
    conv1_padding: int = knob(2, min=0, max=10, step=1,
                              help="Zero padding of conv1. 2 keeps 28×28 at 28×28 with a 5×5 "
                                   "kernel: 28 + 2·2 − 5 + 1 = 28.")
    kernel_size: int = knob(5, min=1, max=11, step=2, help="Kernel size of both convs.")
    channels: tuple[int, ...] = knob((6, 16), min=1, max=1024, min_len=2, max_len=2,
                                     help="Output channels of conv1 and conv2.")
    hidden: tuple[int, ...] = knob((120, 84), min=1, max=65536, min_len=2, max_len=2,
                                   help="Units of the two hidden Linear layers.")
    fit_input: bool = fit_input_knob()


def build(cfg: LeNetConfig) -> nn.Sequential:
    act = ACTIVATIONS[cfg.activation]
    pool = POOLS[cfg.pooling]
    c1, c2 = cfg.channels
    h1, h2 = cfg.hidden
    k = cfg.kernel_size
    feats: list[tuple[str, nn.Module]] = [("conv1", nn.Conv2d(cfg.in_channels, c1, k,
                                                              padding=cfg.conv1_padding))]
    if cfg.batch_norm:
        feats.append(("bn1", nn.BatchNorm2d(c1)))
    feats += [("act1", act()), ("pool1", pool(kernel_size=2, stride=2)),
              ("conv2", nn.Conv2d(c1, c2, k))]
    if cfg.batch_norm:
        feats.append(("bn2", nn.BatchNorm2d(c2)))
    feats += [("act2", act()), ("pool2", pool(kernel_size=2, stride=2))]
    # in_features of fc1 = c2·h·w after pool2 (16·5·5 = 400 for the seed's 28×28)
    head: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten()),
                                         ("fc1", first_linear(seq(*feats), cfg, h1))]
    if cfg.batch_norm:
        head.append(("bn3", nn.BatchNorm1d(h1)))
    head += [("act3", act()), ("fc2", nn.Linear(h1, h2))]
    if cfg.batch_norm:
        head.append(("bn4", nn.BatchNorm1d(h2)))
    head += [("act4", act()), ("fc3", nn.Linear(h2, cfg.num_classes))]
    return seq(*feats, *head)


register_family(Family("lenet", "LeNet", LeNetConfig, build,
                       "LeNet-5 (LeCun et al., 1998) as in d2l: conv-pool-conv-pool + 3 Linear.",
                       default_preset="lenet"))
register_preset(Preset("lenet", "lenet", LeNetConfig(), "d2l LeNet, 1×1×28×28 (seed 002)", "002",
                       compare_with="lenet-bn", train_with="lenet-bn"))
register_preset(Preset("lenet-bn", "lenet",
                       LeNetConfig(batch=2, batch_norm=True, conv1_padding=0),
                       "d2l LeNet with BatchNorm, 2×1×28×28 (seed 002)", "002",
                       compare_with="lenet", train_with="lenet"))
