"""A toy family for the registry test: not in the catalog, registered by a fixture only."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from vizapp.zoo.base import BaseConfig, ConfigError, knob
from vizapp.zoo.registry import Family, Preset


@dataclass(frozen=True)
class ToyConfig(BaseConfig):
    channels: int = knob(4, min=1, max=64, step=1, help="Channels of the one convolution.")
    kernel: int = knob(3, min=1, max=7, step=2, help="Its kernel size.")

    def validate(self) -> None:
        super().validate()
        if self.kernel > min(self.height, self.width):
            raise ConfigError("the kernel is larger than the input", "kernel")


def build(cfg: ToyConfig) -> nn.Module:
    h, w = cfg.height - cfg.kernel + 1, cfg.width - cfg.kernel + 1
    return nn.Sequential(nn.Conv2d(cfg.in_channels, cfg.channels, cfg.kernel), nn.ReLU(),
                         nn.Flatten(), nn.Linear(cfg.channels * h * w, cfg.num_classes))


FAMILY = Family("toy", "Toy", ToyConfig, build, "One convolution and one Linear layer.",
                default_preset="toy-small", hidden_knobs=("num_classes",))
PRESETS = (
    Preset("toy-small", "toy", ToyConfig(height=8, width=8), "4 channels, 1×8×8",
           compare_with="toy-big"),
    Preset("toy-big", "toy", ToyConfig(channels=16, height=8, width=8), "16 channels, 1×8×8",
           compare_with="toy-small"),
)
