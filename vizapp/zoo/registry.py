"""Families, presets and model specs: the one place that names what can be built.

``resolve("resnet50", {"blocks": "3,4,6,3"})`` → :class:`ModelSpec` (frozen, hashable: the
cache key of the app) → :func:`build_model` → ``nn.Module``.  Names accepted by ``resolve``:
a preset (``lenet``, ``resnet18`` …), a family (its default preset), or
``torchvision:NAME`` for any torchvision classification builder (built without weights).
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from torch import nn

from .base import BaseConfig, ConfigError
from vizapp.i18n import msg


@dataclass(frozen=True)
class Family:
    name: str  # "resnet"
    title: str  # "ResNet"
    config_cls: type[BaseConfig]
    build: Callable[[Any], nn.Module]
    description: str = ""
    default_preset: str = ""
    # names the family resolves itself besides its presets (e.g. ``torchvision:NAME``):
    # name -> spec, or None when the name is not the family's
    resolve_name: Callable[[str], "ModelSpec | None"] | None = None
    # the model names a picker offers for this family (default: its presets)
    model_names: Callable[[], Sequence[str]] | None = None
    # the ``model=`` name of a spec with no preset (e.g. ``torchvision:NAME``); None: family name
    name_of: Callable[["ModelSpec"], str | None] | None = None
    # knobs the pickers set themselves: the sidebar draws no widget for them
    hidden_knobs: tuple[str, ...] = ()
    # Compare's default B for a model of this family with no partner preset: the same model
    # with (knob, value) — or (knob, other) when it already has that value
    compare_variant: tuple[str, Any, Any] | None = None
    # the seed pages write this family with their own blocks (the Code page's "as the seed")
    seed_code: bool = False
    # what a link carries for a knob whose value is not short text (the code box's code):
    # knob -> (encode(value) -> text, decode(text) -> value, raising ConfigError)
    link_codecs: tuple[tuple[str, Callable[[Any], str], Callable[[str], Any]], ...] = ()


@dataclass(frozen=True)
class Preset:
    name: str  # "resnet50"
    family: str
    config: BaseConfig
    description: str = ""
    seed: str | None = None  # the seed page it reproduces, e.g. "002" (None: not from a seed)
    exercise: bool = False  # a deliberate bug for students to find (its analysis fails)
    compare_with: str | None = None  # Compare's default B (ResNet-18 → ResNet-50)
    train_with: str | None = None  # the Train lab's comparison model (LeNet-BN ↔ LeNet)


@dataclass(frozen=True)
class ModelSpec:
    """What the user picked: a family and a full config (which includes the input)."""

    family: str
    config: BaseConfig
    preset: str | None = None  # the preset it started from, for display and URLs

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.config.input_shape

    @property
    def batch(self) -> int:
        return self.config.batch

    @property
    def label(self) -> str:
        """What the configuration is *now*: the preset it equals (LeNet switched to BatchNorm
        and padding 0 is "lenet-bn"), else the preset it was named by and what was changed
        ("resnet18 (blocks=3,4,6,3, block=bottleneck)"). The input is not part of it; a
        preset it is close to is :meth:`near`'s to say."""
        base = getattr(self.config, "file_name", "") or self.preset or self.family
        if self.preset and self.preset in PRESETS:
            changed = _diff(PRESETS[self.preset].config, self.config)
        else:
            changed = self.config.changed()
        edited = " (edited)" if "code" in changed else ""  # your own model: never the code itself
        changed = {k: v for k, v in changed.items() if k not in _NOT_IN_LABEL}
        if changed and "code" not in self.config.changed():
            same = self._near(0)
            if same:
                return same[0][0]
        if not changed:
            return base + edited
        from .base import format_value
        return base + " (" + ", ".join(f"{k}={format_value(v)}" for k, v in changed.items()) + ")"

    def _near(self, most: int) -> list[tuple[str, dict[str, tuple[Any, Any]]]]:
        """The presets of this family (other than the one named) that differ from the config
        in the fewest architecture knobs, at most ``most``: [(name, {knob: (ours, its)})]."""
        found: list[tuple[str, dict[str, tuple[Any, Any]]]] = []
        for p in PRESETS.values():
            if p.family != self.family or p.name == self.preset:
                continue
            diff = {k: (v, getattr(p.config, k)) for k, v in _diff(p.config, self.config).items()
                    if k not in _NOT_IN_LABEL and k != "num_classes"}
            if len(diff) <= most:
                found.append((p.name, diff))
        fewest = min((len(d) for _, d in found), default=0)
        return [(n, d) for n, d in found if len(d) == fewest]

    def near(self) -> list[tuple[str, dict[str, tuple[Any, Any]]]]:
        """The presets this changed configuration equals but for one or two architecture knobs
        (the classifier size aside): ``[("resnet50", {"shortcut": ("conv", "conv-bn")})]``;
        empty when it is its preset, or nothing is that close."""
        if "code" in self.config.changed() or not self.preset or self.preset not in PRESETS:
            return []
        if not {k for k in _diff(PRESETS[self.preset].config, self.config)
                if k not in _NOT_IN_LABEL}:
            return []
        return [(n, d) for n, d in self._near(2) if d]

    def replace(self, **changes: Any) -> "ModelSpec":
        return dataclasses.replace(self, config=self.config.replace(**changes))


_NOT_IN_LABEL = ("batch", "height", "width", "in_channels", "name", "code", "file_digest",
                 "file_name")  # a model file is named by its file name


def _diff(a: BaseConfig, b: BaseConfig) -> dict[str, Any]:
    return {k.name: getattr(b, k.name) for k in b.knobs() if getattr(a, k.name) != getattr(b, k.name)}


FAMILIES: dict[str, Family] = {}
PRESETS: dict[str, Preset] = {}

_LOCK = threading.RLock()  # loading registers families one by one: other threads wait
_LOADED = False


def register_family(family: Family) -> None:
    """Add a family; a second family under the same name is an error (as torchvision's
    ``register_model``): two modules would otherwise silently disagree about it."""
    if family.name in FAMILIES and FAMILIES[family.name] != family:
        raise ValueError(f"a family named '{family.name}' is already registered")
    FAMILIES[family.name] = family


def register_preset(preset: Preset) -> None:
    if preset.family not in FAMILIES:
        raise KeyError(f"preset {preset.name}: unknown family {preset.family}")
    if preset.name in PRESETS and PRESETS[preset.name] != preset:
        raise ValueError(f"a preset named '{preset.name}' is already registered")
    PRESETS[preset.name] = preset


def unregister_family(name: str) -> None:
    """Remove a family and its presets (a family registered for a while, e.g. by
    ``vizapp serve`` for another file or by a test)."""
    FAMILIES.pop(name, None)
    for p in [p for p in PRESETS.values() if p.family == name]:
        del PRESETS[p.name]


def _load() -> None:
    """Import the catalog of families once. Thread-safe: a thread that arrives while another
    is loading waits for the whole catalog, never sees half of it."""
    global _LOADED
    if _LOADED:
        return
    with _LOCK:
        if _LOADED:
            return
        catalog = importlib.import_module(f"{__package__}.catalog")
        _reorder([f"{__package__}.{m}" for m in catalog.ORDER])
        _LOADED = True


def _reorder(modules: list[str]) -> None:
    """Families and presets in the catalog's order, whatever order they registered in."""
    rank = {m: i for i, m in enumerate(modules)}
    fams = sorted(FAMILIES.values(), key=lambda f: rank.get(f.build.__module__, len(rank)))
    order = {f.name: i for i, f in enumerate(fams)}
    pres = sorted(PRESETS.values(), key=lambda p: order.get(p.family, len(order)))
    FAMILIES.clear()
    FAMILIES.update((f.name, f) for f in fams)
    PRESETS.clear()
    PRESETS.update((p.name, p) for p in pres)


def families() -> dict[str, Family]:
    _load()
    return FAMILIES


def presets() -> dict[str, Preset]:
    _load()
    return PRESETS


def preset_names() -> list[str]:
    return list(presets())


def resolve(name: str, overrides: dict[str, Any] | None = None) -> ModelSpec:
    """A preset, a family or ``torchvision:NAME`` plus knob overrides → validated ModelSpec.

    Raises :class:`ConfigError` with a message naming the cause."""
    _load()
    overrides = dict(overrides or {})
    if not isinstance(name, str):
        raise ConfigError(msg("a model name is text, got {type}", type=type(name).__name__))
    spec = _named_spec(name)
    if overrides:
        spec = dataclasses.replace(spec, config=spec.config.with_overrides(overrides))
    spec.config.validate()
    return spec


def _named_spec(name: str) -> ModelSpec:
    """A name some family resolves itself (e.g. ``torchvision:NAME``), a preset or a family."""
    for fam in list(FAMILIES.values()):
        if fam.resolve_name is not None:
            spec = fam.resolve_name(name)
            if spec is not None:
                return spec
    if name in PRESETS:
        p = PRESETS[name]
        return ModelSpec(p.family, p.config, p.name)
    if name in FAMILIES:
        fam = FAMILIES[name]
        if fam.default_preset and fam.default_preset not in PRESETS and fam.resolve_name:
            return fam.resolve_name(fam.default_preset) or _named_spec(fam.default_preset)
        p = PRESETS[fam.default_preset] if fam.default_preset in PRESETS else None
        return ModelSpec(fam.name, p.config if p else fam.config_cls(), p.name if p else None)
    close = [n for n in PRESETS if name.lower() in n or n in name.lower()]
    hint = msg(" Did you mean {names}?", names=", ".join(close[:3])) if close else ""
    raise ConfigError(msg("unknown model '{name}'. Presets: {presets}; or torchvision:NAME."
                          "{hint}", name=name[:80], presets=", ".join(PRESETS), hint=hint))


def model_names(family: str) -> list[str]:
    """The names a model picker offers for ``family``: its own list, else its presets."""
    fam = families()[family]
    if fam.model_names is not None:
        return list(fam.model_names())
    return [p.name for p in PRESETS.values() if p.family == family]


def build_model(spec: ModelSpec | BaseConfig, family: str | None = None, *,
                seed: int | None = None) -> nn.Module:
    """Build the module of a spec (or of a bare config of ``family``). Validates first.

    ``seed``: initialise the weights from ``torch.manual_seed(seed)`` without disturbing the
    caller's random state (the same model every time, e.g. for the BatchNorm and Run pages)."""
    _load()
    if isinstance(spec, ModelSpec):
        family, cfg = spec.family, spec.config
    else:
        cfg = spec
        family = family or family_of(cfg)
    cfg.validate()
    if seed is None:
        return FAMILIES[family].build(cfg)
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return FAMILIES[family].build(cfg)


def family_of(cfg: BaseConfig) -> str:
    _load()
    for fam in FAMILIES.values():
        if type(cfg) is fam.config_cls:
            return fam.name
    raise ConfigError(msg("no family uses {type}", type=type(cfg).__name__))
