"""The zoo's shared vocabulary: the common config fields and the input-shape reader.

A family module (``lenet.py``, ``resnet.py`` …) defines a frozen dataclass that subclasses
:class:`BaseConfig`, declares each field with :func:`knob` (bounds, step, help text for the UI
and the CLI), implements ``validate()`` for cross-field rules, and provides ``build(cfg)``.
Everything that generates widgets, parses ``--set KNOB=VALUE`` or URL parameters reads the
metadata of those fields; the knob system itself (:func:`knob`, parsing, checking,
:class:`ConfigError`) is :mod:`vizapp.knobs`, re-exported here for family modules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vizapp.i18n import msg
from vizapp.knobs import (ConfigError, Knob, KnobInfo, LazyChoices, check_value, format_value,
                          knob, knob_infos, parse_value)

# this module's own names, and the knob names a family module and the zoo's public API
# (vizapp/zoo/__init__.py) take from here: their home is vizapp.knobs
__all__ = ["BaseConfig", "INPUT_SHAPE_KNOBS", "MAX_INPUT_VALUES", "parse_input",
           "ConfigError", "Knob", "KnobInfo", "LazyChoices", "format_value", "knob", "knob_infos",
           "parse_value"]


# the largest input tensor N·C·H·W a configuration may describe (2³⁰ values = 4 GiB of float32)
MAX_INPUT_VALUES = 2 ** 30


@dataclass(frozen=True)
class BaseConfig:
    """Fields every family has: the input tensor and the classifier size."""

    in_channels: int = knob(1, min=1, max=64, step=1, group="input",
                            help="Channels of the input image (1 = grey, 3 = RGB).")
    height: int = knob(224, min=1, max=4096, step=1, group="input",
                       help="Input height in pixels.")
    width: int = knob(224, min=1, max=4096, step=1, group="input",
                      help="Input width in pixels.")
    batch: int = knob(1, min=1, max=65536, step=1, group="batch",
                      help="Batch size N of the input tensor N×C×H×W.")
    num_classes: int = knob(10, min=1, max=100000, step=1,
                            help="Outputs of the last Linear layer (number of classes).")

    # ------------------------------------------------------------------ introspection
    @classmethod
    def knobs(cls) -> tuple[KnobInfo, ...]:
        return knob_infos(cls)

    @classmethod
    def knob_info(cls, name: str) -> KnobInfo:
        for k in cls.knobs():
            if k.name == name:
                return k
        names = ", ".join(k.name for k in cls.knobs())
        raise ConfigError(msg("unknown knob '{name}' for {cls}; knobs are: {names}", name=name,
                              cls=cls.__name__, names=names), name)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.height, self.width)

    def replace(self, **changes: Any) -> "BaseConfig":
        for name in changes:
            self.knob_info(name)  # unknown names raise ConfigError
        return dataclasses.replace(self, **changes)

    def with_overrides(self, overrides: dict[str, Any]) -> "BaseConfig":
        """Apply ``{knob: value}`` where values may be strings (CLI, URL) or typed values."""
        typed = {name: parse_value(self.knob_info(name), value) for name, value in overrides.items()}
        return dataclasses.replace(self, **typed)

    def changed(self) -> dict[str, Any]:
        """The knobs whose value differs from the class default."""
        return {k.name: getattr(self, k.name) for k in self.knobs()
                if getattr(self, k.name) != k.default}

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check every field against its bounds; families extend this with their own rules
        (call ``super().validate()`` first). Raises :class:`ConfigError`."""
        for k in self.knobs():
            check_value(k, getattr(self, k.name))
        self._check_input_size()

    def _check_input_size(self) -> None:
        per_image = self.in_channels * self.height * self.width
        values = self.batch * per_image
        if values <= MAX_INPUT_VALUES:
            return
        fits = MAX_INPUT_VALUES // per_image
        fix = (msg("use a batch of {n} or less", n=1 << (fits.bit_length() - 1)) if fits >= 1
               else msg("use a smaller image"))
        raise ConfigError(msg(
            "the input {shape} holds {values} values, more than the {limit} (4 GiB of float32) "
            "this lab works with; {fix}",
            shape=f"{self.batch}×{self.in_channels}×{self.height}×{self.width}",
            values=f"{values:,}", limit=f"{MAX_INPUT_VALUES:,}", fix=fix),
            "batch" if fits >= 1 else "height")


# the knobs of the input image C, H, W (found through their group, in this order)
INPUT_SHAPE_KNOBS = tuple(k.name for k in BaseConfig.knobs() if k.knob.group == "input")


def parse_input(text: str, what: str = "input") -> dict[str, str]:
    """``"1,28,28"`` (or ``1x28x28``, ``1×28×28``) → ``{in_channels, height, width}``: the one
    reader of an input shape, for the URL's ``input=`` and the CLI's ``--input``. Raises
    :class:`ConfigError` (naming ``height``) for anything else."""
    parts = [p for p in text.replace("x", ",").replace("×", ",").replace(" ", "").split(",")
             if p]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ConfigError(msg("{what} takes C,H,W (three positive integers like 1,28,28), got "
                              "'{text}'", what=what, text=text[:40]), "height")
    return dict(zip(INPUT_SHAPE_KNOBS, parts))
