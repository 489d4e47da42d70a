"""The model zoo: one module per family (config dataclass + ``build``), presets as data."""

from .base import (BaseConfig, ConfigError, Knob, KnobInfo, format_value, knob, knob_infos,
                   parse_value)
from .registry import (FAMILIES, PRESETS, Family, ModelSpec, Preset, build_model, families,
                       family_of, model_names, preset_names, presets, register_family,
                       register_preset, resolve)

__all__ = [
    "BaseConfig", "ConfigError", "Knob", "KnobInfo", "format_value", "knob", "knob_infos",
    "parse_value",
    "FAMILIES", "PRESETS", "Family", "ModelSpec", "Preset", "build_model", "families",
    "family_of", "model_names", "preset_names", "presets", "register_family",
    "register_preset", "resolve",
]
