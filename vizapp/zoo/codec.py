"""One codec for a model spec: the link's query parameters, the dict saved with trained weights
and the CLI's ``--set`` all say a spec the same way.

    ?model=densenet&growth_rate=16&input=1,64,64&batch=4

``model`` names a preset, a family or a family's own name (``torchvision:NAME``); every knob
is a parameter under its own name, written by :func:`~vizapp.zoo.base.format_value` and read by
:func:`~vizapp.zoo.base.parse_value`; ``input=C,H,W`` and ``batch=N`` set the input tensor; a
family may carry a knob in its own link form (the code box's code: deflated + base64url). Only
what differs from the named preset is written. No Streamlit here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from vizapp.i18n import msg

from .base import ConfigError, format_value, parse_input
from .registry import ModelSpec, families, presets, resolve

SPEC_PARAMS = ("model", "input", "batch")  # besides every family's knob names


def default_model() -> str:
    """The app opens on your file's model under ``vizapp serve``, else on the seed's ResNet-18
    (1×1×224×224) when the zoo has it."""
    ps = presets()
    for name in ("yourfile", "resnet18", "lenet"):
        if name in ps:
            return name
    return next(iter(ps))


def model_name(spec: ModelSpec) -> str:
    """The ``model=`` value of a spec: its preset, else what its family calls it, else the
    family's name."""
    if spec.preset:
        return spec.preset
    fam = families().get(spec.family)
    if fam is not None and fam.name_of is not None:
        return fam.name_of(spec) or spec.family
    return spec.family


def all_knob_names() -> set[str]:
    names: set[str] = set()
    for fam in families().values():
        names.update(k.name for k in fam.config_cls.knobs())
    return names


def base_spec(spec: ModelSpec) -> ModelSpec:
    """The unmodified preset (or family default / torchvision model) a spec started from."""
    try:
        return resolve(model_name(spec))
    except ConfigError:
        return spec


def _link_codecs() -> dict[str, tuple[Callable[[Any], str], Callable[[str], Any]]]:
    out: dict[str, tuple[Callable[[Any], str], Callable[[str], Any]]] = {}
    for fam in families().values():
        for knob, enc, dec in fam.link_codecs:
            out[knob] = (enc, dec)
    return out


def to_params(spec: ModelSpec) -> dict[str, str]:
    """The minimal parameters that reproduce ``spec``: the model and what differs from it."""
    base = base_spec(spec).config
    cfg = spec.config
    q = {"model": model_name(spec)}
    codecs = _link_codecs()
    for k in cfg.knobs():
        if k.knob.group in ("input", "batch"):
            continue
        value = getattr(cfg, k.name)
        if value == getattr(base, k.name, None):
            continue
        if k.name in codecs:
            try:
                q[k.name] = codecs[k.name][0](value)
            except ConfigError:
                continue  # too long for a link: the code box says so
        else:
            q[k.name] = format_value(value)
    if cfg.input_shape != base.input_shape:
        q["input"] = ",".join(str(v) for v in cfg.input_shape)
    if cfg.batch != base.batch:
        q["batch"] = str(cfg.batch)
    return q


def _first(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return str(v[-1]) if v else ""
    return str(v)


def from_params(params: Mapping[str, Any],
                other: Callable[[str], bool] = lambda key: False) -> tuple[ModelSpec, list[str]]:
    """Parameters → a valid spec and messages about what was ignored. Never raises: an
    unknown model falls back to the default, an unreadable or out-of-range value is reported
    and left at the preset's value. ``other(key)``: parameters that are not the spec's (a
    page's view state), passed over in silence."""
    q = {k: _first(v) for k, v in params.items()}
    messages: list[str] = []
    for knob, (_enc, dec) in _link_codecs().items():
        if knob in q:
            try:
                q[knob] = dec(q[knob])
            except ConfigError as exc:
                messages.append(msg("{knob}: {reason}. Showing the example's {knob} instead.",
                                    knob=knob, reason=exc.message))
                del q[knob]
    base = _named(q.get("model", "").strip() or default_model(), messages)
    knob_names = {k.name for k in type(base.config).knobs()}
    overrides: dict[str, str] = {}
    if "input" in q:
        try:
            overrides.update(parse_input(q["input"]))
        except ConfigError as exc:
            messages.append(exc.message)
    for key, value in q.items():
        if key in knob_names:
            overrides[key] = value
        elif key not in SPEC_PARAMS and not other(key):
            messages.append(msg("'{key}' is not a knob of {family} and was ignored (knobs: "
                                "{knobs}).", key=key, family=base.family,
                                knobs=", ".join(sorted(knob_names))))
    if "batch" in q:
        overrides["batch"] = q["batch"]
    return dataclasses.replace(base, config=_apply(base.config, overrides, messages)), messages


def _named(name: str, messages: list[str]) -> ModelSpec:
    try:
        return resolve(name)
    except ConfigError as exc:
        messages.append(msg("model: {message} Showing {model} instead.", message=exc.message,
                            model=default_model()))
    except Exception as exc:  # noqa: BLE001 - a broken family must not take the app down
        messages.append(msg("model: cannot load '{name}' ({error}). Showing {model}.",
                            name=name, error=str(exc), model=default_model()))
    return resolve(default_model())


def _apply(base: Any, overrides: dict[str, str], messages: list[str]) -> Any:
    """The overrides one at a time (a bad value is reported and skipped), then the cross-field
    rules (the knob at fault goes back to the preset's value)."""
    cfg = base
    for key, value in overrides.items():
        try:
            cfg = cfg.with_overrides({key: value})
        except ConfigError as exc:
            messages.append(exc.message)
    for _ in range(len(overrides) + 1):
        try:
            cfg.validate()
            break
        except ConfigError as exc:
            messages.append(msg("{message} — kept the preset's {knob}.", message=exc.message,
                                knob=exc.knob or msg("values")))
            if exc.knob and hasattr(base, exc.knob) and \
                    getattr(cfg, exc.knob) != getattr(base, exc.knob):
                cfg = dataclasses.replace(cfg, **{exc.knob: getattr(base, exc.knob)})
            else:
                cfg = base
    return cfg


def to_dict(spec: ModelSpec) -> dict[str, Any]:
    """What a weights file saves of its model: the name, the family and every knob's text."""
    return {"model": model_name(spec), "family": spec.family,
            "knobs": {k.name: format_value(getattr(spec.config, k.name))
                      for k in spec.config.knobs()}}


def from_dict(d: Mapping[str, Any]) -> ModelSpec:
    """The spec a weights file's dict names (strict: ConfigError for anything wrong)."""
    knobs = d.get("knobs", {})
    if not isinstance(knobs, Mapping):
        raise ConfigError(msg("the file's model settings are not readable"))
    return resolve(str(d.get("model", "")), {str(k): v for k, v in knobs.items()})
