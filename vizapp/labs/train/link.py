"""The Train page's settings in a link, both ways, beside the model's knobs::

    /train?model=lenet-bn&t.epochs=3&t.schedule=StepLR&t.s.gamma=0.5&t.compare=lr&t.lr2=0.1

Every key starts with ``t.`` so that none can clash with a model knob (``lr`` and ``epochs``
are the LR schedules page's, ``seed`` could be a family's). The settings are knob dataclasses
(:class:`~vizapp.labs.train.TrainSettings`, :class:`PageKnobs`, a schedule's knobs), written by
:func:`vizapp.knobs.format_value` and read by :func:`vizapp.knobs.parse_value` and
:func:`~vizapp.knobs.check_value`, like the model's knobs:

- ``t.<knob>`` — a training setting (``t.lr``, ``t.batch_size``, ``t.epochs``, ``t.seed`` …) or
  one of the page's (``t.data``, ``t.n``, ``t.path``, ``t.compare``, ``t.vs``, ``t.lr2``,
  ``t.schedule2``, ``t.device``, ``t.watch``, ``t.unit``);
- ``t.s.<parameter>`` — a parameter of ``t.schedule`` (``t.s.step_size=2``);
- ``t.s2.<parameter>`` — a parameter of the comparison run's ``t.schedule2``.

:func:`to_params` writes only what differs from a base (the page's defaults);
:func:`from_params` never raises: a value that cannot be read, is out of range or names
something that is not there is reported in a message and left out (the page keeps its
default). No Streamlit here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from vizapp.i18n import msg
from vizapp.knobs import ConfigError, KnobInfo, check_value, format_value, knob, knob_infos, \
    parse_value
from vizapp.labs import schedules

from .settings import TrainSettings

PREFIX = "t."
SCHEDULE = PREFIX + "s."  # the schedule's parameters
SCHEDULE2 = PREFIX + "s2."  # the comparison schedule's parameters
DATA = ("digits", "shapes", "folder", "zip")
COMPARE = ("model", "lr", "schedule")


@dataclass(frozen=True)
class PageKnobs:
    """What the Train page sets beside the training settings. ``""`` (``0.0`` for ``lr2``):
    the page's own default for this model and these settings (the preset's comparison model,
    the other lr, the best device, the last activation …)."""

    data: str = knob("digits", choices=DATA, help="Where the images come from.")
    n: int = knob(2000, min=200, max=10_000, step=100, help="Generated shapes: images.")
    path: str = knob("", help="The folder on the server that holds the data set.")
    compare: str = knob("model", choices=COMPARE, help="What the comparison run changes.")
    vs: str = knob("", help="The configuration the comparison run trains (none: no comparison "
                            "run).")
    lr2: float = knob(0.0, min=1e-6, max=10.0, help="The comparison run's lr₀.")
    schedule2: str = knob("", choices=("none", *schedules.SCHEDULES),
                          help="The comparison run's lr schedule.")
    device: str = knob("", help="The device the runs train on.")
    watch: str = knob("", help="The layer whose input is watched.")
    unit: int = knob(0, min=0, max=4095, help="The channel of that input.")


@dataclass(frozen=True)
class TrainLink:
    """Everything the Train page's link says. ``settings.schedule_args`` and
    ``schedule2_args``: the schedule parameters the link sets (the others take the run's
    defaults, :func:`vizapp.labs.schedules.run_defaults`); the settings' ``device``,
    ``watch`` and ``watch_unit`` are not read (the page's knobs say them)."""

    settings: TrainSettings = field(default_factory=TrainSettings)
    page: PageKnobs = field(default_factory=PageKnobs)
    schedule2_args: tuple[tuple[str, Any], ...] = ()


def _differing(obj: Any, base: Any, infos: Iterable[KnobInfo], prefix: str,
               skip: set[str]) -> dict[str, str]:
    return {prefix + i.name: format_value(getattr(obj, i.name)) for i in infos
            if i.name not in skip and getattr(obj, i.name) != getattr(base, i.name)}


def _schedule_params(name: str, args: Mapping[str, Any], base: Mapping[str, Any],
                     prefix: str) -> dict[str, str]:
    if name == "none":
        return {}
    want = schedules.check_params(name, dict(args))
    ref = schedules.check_params(name, dict(base))
    return {prefix + k: format_value(v) for k, v in want.items() if v != ref[k]}


def to_params(link: TrainLink, base: TrainLink) -> dict[str, str]:
    """The ``t.`` parameters that reproduce ``link`` on a page whose defaults are ``base``
    (its page knobs resolved: the comparison model, the other lr …; its schedule arguments
    the run's defaults): only what differs, and only what applies (``t.n`` for generated
    shapes, ``t.lr2`` when the comparison changes the lr …)."""
    s, p = link.settings, link.page
    skip = {"n"} if p.data != "shapes" else set()
    skip |= {"path"} if p.data != "folder" else set()
    skip |= {"vs", "lr2", "schedule2"} - {{"model": "vs", "lr": "lr2",
                                           "schedule": "schedule2"}[p.compare]}
    out = _differing(s, base.settings, TrainSettings.knobs(), PREFIX, set())
    out.update(_differing(p, base.page, knob_infos(PageKnobs), PREFIX, skip))
    out.update(_schedule_params(s.schedule, dict(s.schedule_args),
                                dict(base.settings.schedule_args), SCHEDULE))
    if p.compare == "schedule" and p.schedule2:
        args2 = _schedule_params(p.schedule2, dict(link.schedule2_args),
                                 dict(base.schedule2_args), SCHEDULE2)
        if args2:  # they are read against the schedule they belong to
            out[PREFIX + "schedule2"] = p.schedule2
        out.update(args2)
    return out


def _read(info: KnobInfo, raw: Any, key: str, choices: Sequence[Any] | None = None) -> Any:
    """One link value, typed and checked (ConfigError with a message naming ``key``)."""
    if choices is not None:
        info = dataclasses.replace(info, knob=dataclasses.replace(info.knob, choices=choices))
    try:
        value = parse_value(info, str(raw))
        if isinstance(value, tuple):
            value = tuple(sorted(value))
        check_value(info, value)
    except ConfigError as exc:  # parse_value's messages start with the knob's name
        reason = str(exc.message).removeprefix(info.name + ": ")
        raise ConfigError(msg("{key}: {reason}", key=key, reason=reason), key) from None
    return value


def _read_group(q: Mapping[str, str], infos: Iterable[KnobInfo], prefix: str,
                messages: list[str], choices: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    out = {}
    for info in infos:
        key = prefix + info.name
        if key in q:
            try:
                out[info.name] = _read(info, q[key], key, choices.get(info.name))
            except ConfigError as exc:
                messages.append(msg("{message} — kept the default.", message=exc.message))
    return out


def _read_schedule(q: Mapping[str, str], name: str | None, prefix: str,
                   messages: list[str]) -> tuple[tuple[str, Any], ...]:
    keys = sorted(k for k in q if k.startswith(prefix))
    if not keys:
        return ()
    if not name or name == "none":
        messages.append(msg("{keys}: the link sets no schedule for them — ignored.",
                            keys=", ".join(keys)))
        return ()
    sch = schedules.SCHEDULES[name]
    known = {p.name for p in sch.params}
    for k in keys:
        if k[len(prefix):] not in known:
            messages.append(msg("'{key}' is not a parameter of {schedule} (parameters: "
                                "{names}) — ignored.", key=k, schedule=name,
                                names=", ".join(sorted(known))))
    got = _read_group(q, sch.params, prefix, messages, {})
    return tuple(sorted(got.items()))


def from_params(params: Mapping[str, Any], choices: Mapping[str, Sequence[Any]] | None = None
                ) -> tuple[TrainLink, list[str]]:
    """The link's ``t.`` parameters → a :class:`TrainLink` and a message for each one left
    out. Never raises. ``choices``: the values a page knob may take here (``vs``: the
    presets, ``device``: the devices there are, ``watch``: the model's layers)."""
    q = {k: (v[-1] if isinstance(v, (list, tuple)) and v else str(v))
         for k, v in params.items() if k.startswith(PREFIX)}
    messages: list[str] = []
    known = {PREFIX + i.name for i in (*TrainSettings.knobs(), *knob_infos(PageKnobs))}
    for k in sorted(q):
        if k not in known and not k.startswith((SCHEDULE, SCHEDULE2)):
            messages.append(msg("'{key}' is not a Train setting — ignored.", key=k))
    values = _read_group(q, TrainSettings.knobs(), PREFIX, messages, {})
    page = _read_group(q, knob_infos(PageKnobs), PREFIX, messages, choices or {})
    values["schedule_args"] = _read_schedule(q, values.get("schedule"), SCHEDULE, messages)
    args2 = _read_schedule(q, page.get("schedule2"), SCHEDULE2, messages)
    return TrainLink(TrainSettings(**values), PageKnobs(**page), args2), messages
