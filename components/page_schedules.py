"""LR schedules: the learning rate epoch by epoch under torch's own schedulers (seed 003 points
at six strategies; here are eight), with every parameter a zoo knob drawn by the one widget generator (``components.widgets``).

Curves from :mod:`vizapp.labs.schedules` (a one-parameter SGD optimizer stepped once per
epoch); figures from :mod:`vizapp.render.plots_schedules`. The model does not matter here."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from vizapp.i18n import _, tr
from vizapp.labs import schedules
from vizapp.render import plots_schedules
from vizapp.zoo import ConfigError, ModelSpec, format_value, parse_value

from . import state, widgets
from .frame import Frame

KEY = "vz.sched."


@st.cache_data(max_entries=128)
def _curve(name: str, epochs: int, base_lr: float, params: tuple[tuple[str, Any], ...]):
    return schedules.lr_curve(name, epochs, base_lr, **dict(params))


def _fail(cause: str, fix: str) -> None:
    st.error(f"{cause}\n\n" + _("**Fix:** {text}").format(text=fix), icon=":material/error:")


def _params_from_url(infos, prefix: str) -> None:
    """The link's ``s.<parameter>=…`` values, the first time each widget is drawn (a value
    that cannot be read keeps the default, and the form says so as usual)."""
    for info in infos:
        wkey, raw = f"{prefix}.{info.name}", state.view_param(f"s.{info.name}", None)
        if raw is None or wkey in st.session_state:
            continue
        try:
            st.session_state[wkey] = widgets.to_widget(info, parse_value(info, raw))
        except (ConfigError, ValueError, TypeError):
            pass


def _view_to_url(name: str, first: str, epochs: int, lr: float, infos, params) -> None:
    """The schedule, its epochs and lr, and its parameters that differ from the defaults."""
    state.set_view_param("sched", name, default=first)
    state.set_view_param("epochs", epochs, default=100)
    state.set_view_param("lr", format_value(lr), default=format_value(0.1))
    mine = {f"s.{i.name}" for i in infos}
    for k in [k for k in st.query_params.keys() if k.startswith("s.") and k not in mine]:
        del st.query_params[k]
    for info in infos:
        value = params.get(info.name, info.default)
        state.set_view_param(f"s.{info.name}", format_value(value),
                             default=format_value(info.default))


def render(frame: Frame) -> None:
    st.header(_("Learning-rate schedules"))
    st.caption(_("Computed by `torch.optim.lr_scheduler` itself: a one-parameter SGD optimizer, "
               "`optimizer.step()` then `scheduler.step()` once per epoch; the plot shows the "
               "lr in force during each epoch. The model does not change these curves."))
    one, overview = st.tabs([_("One schedule"), _("All eight")])
    with one:
        if not _one_schedule():
            return
    with overview:
        _all_schedules()


def _pick_schedule() -> tuple[str, str, int, float, bool]:
    """(first scheduler's name, chosen scheduler, epochs, initial lr, log scale) from the
    row of widgets (the link's values the first time)."""
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    with c1:
        names = list(schedules.SCHEDULES)
        state.bind_widget("sched", KEY + "name", names[0], str, names)
        name = st.selectbox(_("scheduler"), names, key=KEY + "name",
                            format_func=lambda n: f"{n} — {tr(schedules.SCHEDULES[n].title)}")
    with c2:
        state.bind_widget("epochs", KEY + "epochs", 100, int, range(2, 2001))
        epochs = st.number_input(_("epochs"), 2, 2000, key=KEY + "epochs")
    with c3:
        state.bind_widget("lr", KEY + "lr", 0.1, float, lambda v: 1e-6 <= v <= 10.0)
        base_lr = st.number_input(_("initial lr"), 1e-6, 10.0, format="%.4g", key=KEY + "lr")
    with c4:
        log_y = st.toggle(_("log scale"), False, key=KEY + "log")
    return names[0], name, int(epochs), float(base_lr), log_y


def _one_schedule() -> bool:
    """One scheduler with its knobs, its curve, the curve's JSON and the same in PyTorch;
    False when its knobs or torch refuse (the page stops there, having said why)."""
    first, name, epochs, base_lr, log_y = _pick_schedule()
    sch = schedules.SCHEDULES[name]
    st.markdown(f"**{tr(sch.title)}**: `{tr(sch.formula)}` — {tr(sch.help)}")
    knobs, plot = st.columns([1, 3])
    with knobs:
        if (state.view_param("sched", None) or first) == name:  # the link's schedule
            _params_from_url(sch.params, KEY + name)
        params, errors = widgets.knob_form(st, sch.params, KEY + name)
    _view_to_url(name, first, epochs, base_lr, sch.params, params)
    if errors:
        knob_name, msg = next(iter(errors.items()))
        _fail(msg, _("change {knob} (its help text gives the allowed form and range).").format(knob=knob_name))
        return False
    try:
        curve = _curve(name, epochs, base_lr, tuple(sorted(params.items())))
    except schedules.ScheduleError as exc:
        _fail(str(exc), _("change that parameter (its help text gives the allowed range)."))
        return False
    except Exception as exc:  # noqa: BLE001 - torch's own argument checks
        _fail(_("torch refused these parameters: {error}").format(
            error=f"{type(exc).__name__}: {exc}"), _("change the parameter it names."))
        return False
    with plot:
        _draw_curve(name, curve, log_y)
    st.code(_snippet(name, base_lr, params, epochs), language="python")
    return True


def _draw_curve(name: str, curve, log_y: bool) -> None:
    st.plotly_chart(plots_schedules.lr_curves([curve], log_y), width="stretch",
                    theme=None, key=KEY + "fig_one")
    lo, hi = min(curve.lr), max(curve.lr)
    cuts = (_("; lr changes direction/steps at epochs {epochs}").format(
        epochs=', '.join(map(str, curve.events[:12]))) if curve.events else "")
    st.caption(_("lr from {a} to {b} (min {lo}, max {hi})").format(
        a=f"{curve.lr[0]:.4g}", b=f"{curve.lr[-1]:.4g}", lo=f"{lo:.3g}",
        hi=f"{hi:.3g}") + f"{cuts}.")
    if name == "ReduceLROnPlateau":
        st.caption(_("The dotted grey line is the synthetic validation loss "
                     "0.2 + 2·exp(−epoch/τ) + noise that the scheduler watches."))
    st.download_button(_("curve as JSON"), json.dumps(curve.to_dict()),
                       file_name=f"{name}.json", mime="application/json",
                       key=KEY + "dl")


def _all_schedules() -> None:
    """The eight schedulers' curves with their defaults, on one plot and in a table."""
    c1, c2, c3 = st.columns([1, 1, 4])
    with c1:
        ep = st.number_input(_("epochs"), 2, 2000, 100, key=KEY + "all_epochs")
    with c2:
        log_all = st.toggle(_("log scale"), True, key=KEY + "all_log")
    try:
        curves = [_curve(n, int(ep), 0.1, ()) for n in schedules.SCHEDULES]
    except Exception as exc:  # noqa: BLE001
        _fail(_("a schedule could not be computed: {error}").format(error=exc), _("use fewer epochs."))
        return
    st.plotly_chart(plots_schedules.lr_curves(curves, log_all, detail=False), width="stretch",
                    theme=None, key=KEY + "fig_all")
    st.dataframe([{"scheduler": n, "rule": tr(s.formula), "defaults": ", ".join(
        f"{p.name}={format_value(p.default)}" for p in s.params)} for n, s in schedules.SCHEDULES.items()],
        hide_index=True, width="stretch", column_config={
            "scheduler": _("scheduler"), "rule": _("rule"), "defaults": _("defaults")})


def _snippet(name: str, base_lr: float, params: dict[str, Any], epochs: int) -> str:
    """The same schedule as plain PyTorch code."""
    args = {k: v for k, v in params.items() if not k.startswith("loss_") and k != "seed"}
    if name == "MultiStepLR":
        ms = args["milestones"]
        args["milestones"] = list(ms) if isinstance(ms, tuple) else [
            int(v) for v in str(ms).split(",") if v.strip()]
    if name == "OneCycleLR":
        args["total_steps"] = epochs
    if name == "LambdaLR":
        fn = args.pop("fn")
        lam = {"warmup_constant": f"lambda e: min(1.0, (e + 1) / {args['warmup']})",
               "warmup_inv_sqrt": f"lambda e: min((e + 1) / {args['warmup']}, "
                                  f"({args['warmup']} / (e + 1)) ** 0.5)",
               "polynomial": f"lambda e: max(0.0, 1 - e / {epochs}) ** {args['power']}",
               "exponential": "lambda e: 0.95 ** e"}[fn]
        args = {"lr_lambda": lam}
    kw = ", ".join(f"{k}={v!r}" if k != "lr_lambda" else f"{k}={v}" for k, v in args.items())
    step = "scheduler.step(val_loss)" if name == "ReduceLROnPlateau" else "scheduler.step()"
    return (f"optimizer = torch.optim.SGD(model.parameters(), lr={base_lr:g})\n"
            f"scheduler = torch.optim.lr_scheduler.{name}(optimizer, {kw})\n"
            f"for epoch in range({epochs}):\n    train_one_epoch(model, optimizer)\n"
            f"    {step}")
