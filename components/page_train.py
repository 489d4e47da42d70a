"""Train: train the current configuration for real on small offline data, live — loss,
accuracy and lr curves while it runs, a comparison run overlaid (LeNet vs LeNet-BN in one
click), BatchNorm statistics over training, Ioffe & Szegedy's percentiles, the confusion
matrix, the worst mistakes and the trained first-layer filters.

The work happens in :mod:`vizapp.labs.train` (a background thread per session, under the
device lock; this page only polls its records with a fragment) and the figures in
:mod:`vizapp.render.plots_train`. Text that comes from the user (zip file and folder names)
is shown escaped or as plain text."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from vizapp.i18n import N_, _, get_lang, tr
from vizapp.labs import data as D
from vizapp.labs import schedules as S
from vizapp.labs import train as T
from vizapp.labs.features import first_filters
from vizapp.render import plots_inside as PI
from vizapp.render import plots_train as P
from vizapp.runtime import available_devices, lock_for
from vizapp.runtime.cache import SharedCache
from vizapp.runtime.sessions import GRACE_S, current_session_watch
from vizapp.zoo import (ConfigError, ModelSpec, build_model, codec, preset_names,
                        presets, resolve)

from . import lang, train_link, widgets
from .frame import Frame
from .text import esc, md
from .weights import TRAIN_RUN

KEY = "vz.train."
SOURCES = {"digits": N_("handwritten digits (sklearn, 1,797 real images)"),
           "shapes": N_("generated shapes (any size and channels)"),
           "folder": N_("torchvision folder on the server (MNIST, FashionMNIST, CIFAR10)"),
           "zip": N_("upload a zip of class folders")}
SETTINGS = T.TrainSettings.knobs()
POLL_S = 0.7
PRESSED = KEY + "pressed"  # set by the Train button's callback, read once by the next render
# a run's figures, per state of its records and language, for every session watching it: the
# live curves are most of a poll's work (about 25 ms), the results' figures 0.3 s a page
FIGURES = SharedCache("train figures", max_bytes=32 << 20, max_entries=128)
# while a run trains its records change 4 times a second and every watcher polls: the live
# curves are built at most once per LIVE_S for all of them (a figure at most LIVE_S old)
LIVE_S = 0.5
LIVE = SharedCache("train live curves", max_bytes=8 << 20, max_entries=16)


def _fail(text: str) -> None:
    st.error(esc(text, 1000), icon=":material/error:")


@st.cache_resource(max_entries=6, show_spinner=False)
def _data(choice: D.DataChoice, shape: tuple[int, int, int], classes: int,
          upload: bytes | None) -> D.DataSet:
    """Shared between sessions and only read (training copies batches out of it)."""
    return D.load(choice, shape, classes, upload)


@st.cache_data(max_entries=32, show_spinner=False)
def _estimate(spec: ModelSpec, device: str, batch: int, precision: str):
    """The training memory estimate (a record, cached across sessions: its sentence is made
    where it is shown, in that session's language); a run started from this page measures
    only the budget again."""
    return T.estimate_spec(spec, device, batch, precision)


def _data_key(choice: D.DataChoice, spec: ModelSpec, upload: bytes | None) -> str:
    """What names a data set for a run's key: its source, the input and classes it is made
    for, and an upload's digest."""
    digest = hashlib.sha256(upload).hexdigest() if upload is not None else None
    return repr((choice, tuple(spec.input_shape), spec.config.num_classes, digest))


def _pick_data(spec: ModelSpec) -> tuple[D.DataSet | None, str]:
    """The data set the widgets choose (None after saying why there is none) and its key."""
    c1, c2 = st.columns([2, 3])
    kind = c1.selectbox(_("data"), list(SOURCES), format_func=lambda k: tr(SOURCES[k]), key=KEY + "data")
    upload, choice = None, D.DataChoice(kind)
    if kind == "shapes":
        n = c2.slider(_("images"), 200, 10_000, 2000, 100, key=KEY + "n",
                      help=_("Generated with a fixed seed: circles, squares, triangles, crosses …"))
        choice = D.DataChoice("shapes", n=n)
    elif kind == "folder":
        path = c2.text_input(_("folder on the server"), key=KEY + "path",
                             help=_("The root folder torchvision would use (it holds MNIST/, "
                                    "FashionMNIST/ or cifar-10-batches-py/); nothing is "
                                    "downloaded."))
        if not path:
            c2.caption(_("Give the folder that holds the data set."))
            return None, ""
        choice = D.DataChoice("folder", path=path)
    elif kind == "zip":
        f = c2.file_uploader(_("zip of class folders (cat/1.png, dog/7.png …)"), type=["zip"],
                             key=KEY + "zip", help=_("At most {mib} MiB and {n} images.").format(
                                 mib=D.MAX_ZIP_BYTES // 2**20, n=f"{D.MAX_IMAGES:,}"))
        if f is None:
            return None, ""
        upload, choice = f.getvalue(), D.DataChoice("zip", path=f.name)
    try:
        with st.spinner(_("Preparing the data…")):
            ds = _data(choice, tuple(spec.input_shape), spec.config.num_classes, upload)
    except D.DataError as exc:
        if kind in ("digits", "shapes"):  # the configuration is too big for this server
            st.warning(esc(_("Cannot train this configuration on {kind}: {error}").format(
                kind=kind, error=exc), 1000),
                       icon=":material/warning:")
        else:
            _fail(str(exc))
        return None, ""
    c2.text(ds.summary())
    return ds, _data_key(choice, spec, upload)


def _settings(model_layers: list[str], default_watch: str | None) -> T.TrainSettings | None:
    """The training knobs and the schedule's knobs, all drawn by the one widget generator."""
    cols = st.columns(3)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for col, part in zip(cols, (SETTINGS[:3], SETTINGS[3:6], SETTINGS[6:])):
        v, e = widgets.knob_form(col, part, KEY + "s")
        values.update(v)
        errors.update(e)
    sargs: dict[str, Any] = {}
    if values["schedule"] != "none":
        sch = S.SCHEDULES[values["schedule"]]
        with st.expander(_("{name} knobs — {formula}").format(name=sch.name, formula=tr(sch.formula)), expanded=False):
            sargs, e = train_link.schedule_form(st, sch, train_link.SCHEDULE_KEY + sch.name,
                                                values["epochs"], values["lr"])
            errors.update(e)
    c1, c2, c3 = st.columns([2, 2, 1])
    devs = {d.name: d.label for d in available_devices()}
    device = c1.selectbox(_("device"), list(devs), format_func=devs.get, key=KEY + "device",
                          help=_("The best available first; bf16 autocast and channels_last "
                                 "on a GPU."))
    precision = "auto"
    if not device.startswith("cpu"):  # a GPU: the mixed precision is the user's to switch
        precision = c1.selectbox(_("precision"), ["auto", "fp32", "bf16", "fp16"],
                                 key=KEY + "precision",
                                 help=_("auto: bf16 autocast where the GPU has it (else fp16), "
                                        "fp32 on Apple GPUs; fp32 switches autocast off."))
    watch = c2.selectbox(_("watch the input of"), model_layers, key=KEY + "watch",
                         index=model_layers.index(default_watch) if default_watch in
                         model_layers else 0, help=_("Its 15/50/85th percentiles are recorded "
                         "during training (Ioffe & Szegedy 2015, Fig. 1)."))
    unit = c3.number_input(_("unit"), 0, 4095, 0, key=KEY + "unit")
    if errors:
        name, msg = next(iter(errors.items()))
        _fail(_("{message} (change {name})").format(message=msg, name=name))
        return None
    return _valid(T.TrainSettings(**values, schedule_args=tuple(sorted(sargs.items())),
                                  device=device, precision=precision, watch=watch,
                                  watch_unit=int(unit)))


def _valid(s: T.TrainSettings) -> T.TrainSettings | None:
    """``s`` if it validates, else None after saying why."""
    try:
        s.validate()
    except T.TrainError as exc:
        _fail(str(exc))
        return None
    return s


COMPARE = {"model": N_("another configuration"), "lr": N_("another learning rate"),
           "schedule": N_("another lr schedule")}


def _partner() -> str:
    """What the second run changes: the model (another preset), the learning rate or the LR
    schedule (same model, data and seed)."""
    return st.selectbox(_("comparison run changes"), list(COMPARE),
                        format_func=lambda k: tr(COMPARE[k]), key=KEY + "cmp",
                        help=_("A second run trained after the first on the same data and "
                               "seed; the curves are overlaid."))


def _other_model(spec: ModelSpec) -> tuple[bool, ModelSpec | None]:
    """(ok, the comparison configuration): another preset at the same input and classes."""
    names = ["none", *preset_names()]
    if KEY + "vs" not in st.session_state:
        st.session_state[KEY + "vs"] = _default_vs(spec)
    other = st.selectbox(_("compare with"), names, key=KEY + "vs",
                         help=_("Trained after the first one on the same data and seed; the "
                                "curves are overlaid (LeNet vs LeNet-BN: the seed's experiment)."))
    if other == "none":
        return True, None
    c = spec.config
    try:
        return True, resolve(other, {"in_channels": c.in_channels, "height": c.height,
                                     "width": c.width, "num_classes": c.num_classes})
    except ConfigError as exc:
        _fail(_("{other} cannot take this input: {error}").format(other=other, error=exc))
        return False, None


def _default_vs(spec: ModelSpec) -> str:
    """The comparison model a preset names (LeNet-BN's is LeNet), else none."""
    preset = presets().get(spec.preset or "")
    return (preset.train_with if preset is not None else None) or "none"


def _default_lr2(lr: float) -> float:
    return 0.1 if lr != 0.1 else 0.9


def _default_sched2(schedule: str) -> str:
    return "StepLR" if schedule != "StepLR" else "CosineAnnealingLR"


def _other_lr(s: T.TrainSettings) -> T.TrainSettings | None:
    info = next(k for k in SETTINGS if k.name == "lr")
    if KEY + "lr2" not in st.session_state:
        st.session_state[KEY + "lr2"] = _default_lr2(s.lr)
    lr = st.number_input(_("second learning rate"), min_value=float(info.knob.min),
                         max_value=float(info.knob.max), step=0.01, format="%g",
                         key=KEY + "lr2", help=_("The same model, data, seed and schedule; "
                                                 "only lr₀ differs."))
    if f"{float(lr):g}" == f"{s.lr:g}":  # the labels would be the same too
        _fail(_("The second learning rate equals the first ({lr}): pick another one.").format(
            lr=f"{s.lr:g}"))
        return None
    return dataclasses.replace(s, lr=float(lr))


def _other_schedule(s: T.TrainSettings) -> T.TrainSettings | None:
    names = ["none", *S.SCHEDULES]
    if KEY + "sched2" not in st.session_state:
        st.session_state[KEY + "sched2"] = _default_sched2(s.schedule)
    name = st.selectbox(_("second lr schedule"), names, key=KEY + "sched2",
                        format_func=_schedule_name,
                        help=_("The same model, data, seed and lr₀; only the schedule differs."))
    if name == s.schedule:
        _fail(_("The second schedule is the first one ({name}): pick another one.").format(
            name=_schedule_name(name)))
        return None
    args: dict[str, Any] = {}
    if name != "none":
        sch = S.SCHEDULES[name]
        with st.expander(_("{name} knobs — {formula}").format(name=sch.name,
                                                              formula=sch.formula)):
            args, errors = train_link.schedule_form(st, sch, train_link.SCHEDULE2_KEY + sch.name,
                                                    s.epochs, s.lr)
        if errors:
            knob, msg = next(iter(errors.items()))
            _fail(_("{message} (change {name})").format(message=msg, name=knob))
            return None
    return _valid(dataclasses.replace(s, schedule=name,
                                      schedule_args=tuple(sorted(args.items()))))


def _schedule_name(name: str) -> str:
    return _("constant lr") if name == "none" else name


def _jobs(spec: ModelSpec, mode: str, other: ModelSpec | None, s: T.TrainSettings,
          s2: T.TrainSettings | None) -> list[tuple[str, ModelSpec, T.TrainSettings]]:
    """(label, spec, settings) of each run: the labels say what differs."""
    if mode == "lr" and s2 is not None:
        return [(f"{spec.label}, lr {s.lr:g}", spec, s), (f"{spec.label}, lr {s2.lr:g}", spec, s2)]
    if mode == "schedule" and s2 is not None:
        return [(f"{spec.label}, {_schedule_name(s.schedule)}", spec, s),
                (f"{spec.label}, {_schedule_name(s2.schedule)}", spec, s2)]
    if other is None:
        return [(spec.label, spec, s)]
    label2 = other.label if other.label != spec.label else other.label + " (2)"
    return [(spec.label, spec, s), (label2, other, s)]


def _start(jobs: list[tuple[str, ModelSpec, T.TrainSettings]], ds: D.DataSet,
           data_key: str, s: T.TrainSettings, spec: ModelSpec, est: Any) -> None:
    """Watch the run of these jobs: the one training now for another session, the stored one,
    or a new one. A new one builds each run's model once (the run owns it: no copy) and
    hands over the estimate shown for ``spec`` to the runs it applies to (the same
    configuration and settings)."""
    def make() -> T.TrainRun:
        built = []
        for label, sp, js in jobs:
            cfg = codec.to_dict(sp)
            same = sp == spec and (js.batch_size, js.device, js.precision) == (
                s.batch_size, s.device, s.precision)
            built.append(T.Job(label, build_model(sp, seed=js.seed), cfg, js, sp, owned=True,
                               estimate=est if same else None))
        return T.TrainRun(built, ds, s)

    watcher = current_session_watch() or (lambda: True)  # no browser session: always here
    joined = T.RUNS.join(T.run_key(jobs, data_key), make, watcher)
    st.session_state[TRAIN_RUN] = joined.run
    st.session_state[KEY + "watcher"] = watcher
    st.session_state[KEY + "how"] = joined.how
    st.session_state.pop(KEY + "left", None)
    train_link.forget_messages()


@dataclass(frozen=True, eq=False)
class Form:
    """What the settings expander says: the data, the comparison and the settings (None
    where they are not valid; the page has said why) and the memory estimate."""

    ds: D.DataSet | None
    data_key: str
    mode: str
    other: ModelSpec | None
    s: T.TrainSettings | None
    s2: T.TrainSettings | None
    ok: bool
    est: Any

    @property
    def ready(self) -> bool:
        return self.ds is not None and self.s is not None and self.ok


def _form(spec: ModelSpec, outline: T.Outline) -> Form:
    ds, data_key = _pick_data(spec)
    c1, c2 = st.columns([1, 2])
    with c1:
        mode = _partner()
    with c2:
        ok, other = _other_model(spec) if mode == "model" else (True, None)
    s = _settings(list(outline.layers), outline.default_watch)
    s2 = None
    if s is not None and mode != "model":
        with c2:
            s2 = _other_lr(s) if mode == "lr" else _other_schedule(s)
        ok = s2 is not None
    est = None
    if s is not None:
        for js in (s, s2) if mode == "schedule" and s2 is not None else (s,):
            _say_if_noop(js)
        est = _estimate(spec, s.device, s.batch_size, s.precision)
        text, fits = est.text(), est.fits
        (st.caption if fits else st.warning)(md(_("Memory estimate for training: {text}."),
                                                 text=text))  # names a layer: user text
    return Form(ds, data_key, mode, other, s, s2, ok, est)


def _say_if_noop(s: T.TrainSettings) -> None:
    """A schedule whose parameters leave the lr at lr₀ for the whole run says so."""
    if s.schedule == "none":
        return
    try:
        acts = S.changes_lr(s.schedule, s.epochs, s.lr, dict(s.schedule_args))
    except Exception:  # noqa: BLE001 - torch refuses these parameters: the run will say so
        return
    if not acts:
        st.info(_("{name} leaves the lr at {lr} for all {epochs} epoch(s) of this run: with "
                  "these parameters it changes nothing here (for ReduceLROnPlateau: not even "
                  "if the loss never improved).").format(name=s.schedule, lr=f"{s.lr:g}",
                                                         epochs=s.epochs),
                icon=":material/info:")


def _choices(spec: ModelSpec, outline: T.Outline) -> dict[str, list[str]]:
    """The values the page's select boxes offer (what a link may name)."""
    return {"vs": ["none", *preset_names()], "device": [d.name for d in available_devices()],
            "watch": list(outline.layers)}


def _link(spec: ModelSpec, outline: T.Outline, f: Form) -> tuple[T.TrainLink, T.TrainLink]:
    """The page as a link, and the page's defaults for these settings (what the link leaves
    out)."""
    ss, s = st.session_state, f.s
    assert s is not None
    page = T.PageKnobs(data=ss.get(KEY + "data", "digits"), n=int(ss.get(KEY + "n", 2000)),
                       path=ss.get(KEY + "path") or "", compare=f.mode,
                       vs=ss.get(KEY + "vs") or "", lr2=float(ss.get(KEY + "lr2") or 0.0),
                       schedule2=ss.get(KEY + "sched2") or "", device=s.device,
                       watch=s.watch or "", unit=s.watch_unit)
    args2 = f.s2.schedule_args if f.mode == "schedule" and f.s2 is not None else ()
    base = T.PageKnobs(vs=_default_vs(spec), lr2=_default_lr2(s.lr),
                       schedule2=_default_sched2(s.schedule),
                       device=available_devices()[0].name, watch=outline.default_watch or "")

    def run_defaults(name: str) -> tuple:
        return () if name in ("", "none") else tuple(
            S.run_defaults(name, s.epochs, s.lr).items())

    return (T.TrainLink(s, page, args2),
            T.TrainLink(T.TrainSettings(schedule_args=run_defaults(s.schedule)), base,
                        run_defaults(page.schedule2)))


def _intro() -> None:
    st.header(_("Train"))
    st.caption(_("Trains a copy of the current configuration for real, on small data that ships "
               "with the app (nothing is downloaded), in the background: the curves update "
               "while it runs and other pages keep answering. One training at a time per "
               "device for the whole server; the others queue. Sessions that press Train with "
               "the same model, settings, data and seed watch one and the same run; the link "
               "carries the settings."))
    st.caption(_("A training stops once no browser tab has watched it for {s} s; a finished "
                 "one feeds the Feature maps and BatchNorm pages for the same "
                 "configuration.").format(s=f"{GRACE_S:g}"))


def render(frame: Frame) -> None:
    spec = frame.spec
    _intro()
    try:
        outline = T.outline(spec)
    except ConfigError as exc:
        _fail(_("{error}: fix the configuration in the sidebar").format(error=exc))
        return
    train_link.seed(_choices(spec, outline))  # the link's settings, before any widget
    train_link.show_messages()
    run: T.TrainRun | None = st.session_state.get(TRAIN_RUN)
    busy = run is not None and run.running
    pressed = bool(st.session_state.pop(PRESSED, False))
    with st.expander(_("Data and training settings"), expanded=not (busy or pressed),
                     icon=":material/tune:"):
        f = _form(spec, outline)
    if f.s is not None:
        train_link.sync(*_link(spec, outline, f))
    if pressed and f.ready and not busy:
        assert f.ds is not None and f.s is not None  # Train was pressed: its callback ran first
        _start(_jobs(spec, f.mode, f.other, f.s, f.s2), f.ds, f.data_key, f.s, spec, f.est)
        run = st.session_state[TRAIN_RUN]
        busy = run.running
    c1, c2 = st.columns([1, 5])
    c1.button(_("Train"), type="primary", key=KEY + "go", icon=":material/play_arrow:",
              disabled=busy or not f.ready, on_click=_press)
    lk = lock_for(f.s.device if f.s else "cpu")
    if not busy and lk.busy:
        c2.caption(_("The device is busy now ({n} waiting); a new training queues "
                     "behind.").format(n=lk.waiting))
    _shared_note()
    if run is not None:
        _live(run, POLL_S if run.running else None)
        if not run.running:
            _results(run)


def _press() -> None:
    """Train was pressed: this run starts (or joins) the training before the button is drawn
    (disabled then), with the settings the widgets say now — one page run per press."""
    st.session_state[PRESSED] = True


def _shared_note() -> None:
    """How this session came to its run (started, joined, stored), or that it left one."""
    left = st.session_state.get(KEY + "left")
    if left:
        st.info(_("You stopped watching; the run goes on for the {n} other session(s) that "
                  "watch it.").format(n=left), icon=":material/visibility_off:")
    how = st.session_state.get(KEY + "how") if st.session_state.get(TRAIN_RUN) else None
    if how == "joined":
        st.info(_("Another session had started this very run (the same model, settings, data "
                  "and seed): you are watching it instead of queueing a copy."),
                icon=":material/groups:")
    elif how == "stored":
        st.info(_("This very run (the same model, settings, data and seed) had been trained "
                  "already: its stored result is shown."), icon=":material/inventory_2:")


def _leave(run: T.TrainRun) -> None:
    """Stop: the last session watching a run stops it; the others only stop watching."""
    watcher = st.session_state.get(KEY + "watcher")
    left = run.leave(watcher) if watcher is not None else 0
    if watcher is None:
        run.stop()
    if left:
        st.session_state.pop(TRAIN_RUN, None)
        st.session_state[KEY + "left"] = left


def _live(run: T.TrainRun, every: float | None) -> None:
    @st.fragment(run_every=every)
    def live() -> None:
        if st.session_state.get(TRAIN_RUN) is not run:
            st.rerun()  # this session stopped watching it (Stop, others watch on): the page
        if every is not None and run.running and _nearly_done(run.view()):
            run.thread.join(POLL_S)  # the end is due before the next poll: show it at once
        if every is not None and not run.running:
            st.rerun()  # the whole page: results appear and polling stops
        lang.restore()  # a fragment rerun starts in the default language
        view = run.view()
        if run.running:
            st.button(_("Stop"), key=KEY + "stop", icon=":material/stop:", on_click=_leave,
                      args=(run,))
        st.caption(_("{n} session(s) watching this run · {k} run(s) started on this "
                     "server so far").format(n=run.watching(), k=T.RUNS.started))
        for label, v in view.items():
            _progress(label, v["progress"], v["result"])
        st.plotly_chart(_curves(run, view), width="stretch", theme=None, key=KEY + "curves")
    live()


def _nearly_done(view: dict[str, dict]) -> bool:
    """Whether every training of a run has ended or will end within a poll (its ETA)."""
    for v in view.values():
        p = v["progress"]
        if v["result"] is None and (p.phase != "running" or p.eta_s is None
                                    or p.eta_s > POLL_S):
            return False
    return True


def _figure(run: T.TrainRun, what: tuple, build: Any) -> Any:
    """``build()``, a figure of ``run`` that ``what`` names (with the state of the records it
    shows), made once per language for all the sessions that watch the run (read only)."""
    return FIGURES.get((run.id, get_lang(), *what), build)


def _curves(run: T.TrainRun, view: dict[str, dict]) -> Any:
    """The loss/accuracy/lr figure of ``run``'s records in ``view`` (while it trains: of its
    records at most :data:`LIVE_S` ago)."""
    if run.running:
        tick = int(time.monotonic() / LIVE_S)
        return LIVE.get((run.id, get_lang(), tick), lambda: P.curves(view))
    state = tuple((k, len(v["step"]), len(v["epoch"])) for k, v in view.items())
    return _figure(run, ("curves", state), lambda: P.curves(view))


def _progress(label: str, p: T.Progress, res: T.TrainResult | None) -> None:
    name = esc(label)  # progress text is Markdown
    if p.phase in ("pending", "stopped") and not p.total_steps:
        st.progress(0.0, text=f"{name}: {tr(p.message) or p.phase}")
        return
    if p.phase == "queued":
        st.progress(0.0, text=f"{name}: " + _("waiting for the device — {n} run(s) "
                                              "ahead").format(n=p.queue_position))
        return
    frac = p.step / p.total_steps if p.total_steps else 0.0
    eta = f", ETA {p.eta_s:.0f} s" if p.eta_s else ""
    st.progress(min(1.0, frac), text=f"{name}: " + _(
        "epoch {e}, step {s}/{t} · {r} images/s").format(
        e=p.epoch, s=p.step, t=p.total_steps, r=f"{p.images_per_s:,.0f}") + eta)
    if res is not None:
        (st.success if res.status == "done" else st.warning if res.ok else st.error)(
            esc(f"{label}: {tr(res.message)}", 1000))


def _results(run: T.TrainRun) -> None:
    """The finished run's accuracy, BatchNorm statistics, percentiles, mistakes, filters and
    weights file (its figures shared with every session that watched it)."""
    view = run.view()
    done = {k: v for k, v in view.items() if v["result"] is not None and v["epoch"]}
    if not done:
        return
    cols = st.columns(len(done))
    for col, (label, v) in zip(cols, done.items()):
        e = v["epoch"][-1]
        col.metric(md(_("val accuracy — {label}"), label=label), f"{100 * e.val_acc:.1f}%",
                   _("{d} pts since epoch 1").format(
                       d=f"{100 * (e.val_acc - v['epoch'][0].val_acc):+.1f}"))
    for name, v in done.items():
        st.caption(esc(_throughput(name, v["epoch"][-1], v["result"])))
    label = st.selectbox(_("run shown under Mistakes, Filters and Download"), list(done),
                         key=KEY + "which") if len(done) > 1 else next(iter(done))
    res = done[label]["result"]
    tabs = st.tabs([_("BatchNorm"), _("Inside the network"), _("Percentiles & train/eval gap"),
                    _("Mistakes"), _("Filters"), _("Download")])
    with tabs[0]:
        _bn_tab(run, done)
    with tabs[1]:
        _inside_tab(run, done)
    with tabs[2]:
        st.plotly_chart(_figure(run, ("pct", tuple(done)), lambda: P.percentiles(
            {k: v["watch"] for k, v in done.items()})), width="stretch", theme=None,
            key=KEY + "pct")
        st.caption(_("Ioffe & Szegedy (2015), Fig. 1(b, c): the 15th, 50th and 85th percentile "
                   "of one unit's input over training. Without BatchNorm the distribution "
                   "drifts; with it, it stays put."))
        st.plotly_chart(_figure(run, ("gap", tuple(done)), lambda: P.gap(
            {k: v["epoch"] for k, v in done.items()})), width="stretch", theme=None,
            key=KEY + "gap")
        st.caption(_("Train-vs-eval gap: the same validation images in train mode (batch "
                   "statistics) and eval mode (running statistics). Zero without BatchNorm "
                   "or dropout."))
    with tabs[3]:
        _mistakes(run, label, res)
    with tabs[4]:
        _filters(run, label, res)
    with tabs[5]:
        fname = re.sub(r"[^\w.-]+", "_", label) + "_trained.pt"
        st.download_button(_("state_dict + configuration (.pt)"), T.save_bytes(res),
                           file_name=fname, key=KEY + "dl", icon=":material/download:")
        st.code(f"obj = torch.load('{fname}', weights_only=True)\n"
                f"model.load_state_dict(obj['state_dict'])\n"
                f"config = json.loads(obj['config'])", language="python")
        _check_file(res, run.data)


def _throughput(label: str, e: T.EpochRecord, res: T.TrainResult) -> str:
    """The last epoch's speed: images/s, the training FLOP/s achieved (≈ 3 × the forward
    pass per image, counted by FlopCounterMode) and, on a GPU the table knows, its share of
    the published peak."""
    from vizapp.runtime.devices import peak_tflops

    tf = e.flops_per_s / 1e12
    rate = f"{tf:,.2f} TFLOP/s" if tf >= 1 else f"{e.flops_per_s / 1e9:,.1f} GFLOP/s"
    text = _("{label}: {ips} images/s · ≈ {rate} of training arithmetic ({prec} on "
             "{device}; a step ≈ 3 × the forward pass)").format(
        label=label, ips=f"{e.images_per_s:,.0f}", rate=rate, prec=res.precision or "fp32",
        device=res.device)
    peak = peak_tflops(res.device, res.precision)
    if peak is not None and e.flops_per_s:
        text += " — " + _("{pct} of the {gpu}'s {peak} TFLOP/s peak").format(
            pct=f"{100 * tf / peak[1]:.1f}%", gpu=peak[0], peak=f"{peak[1]:g}")
    return text


def _bn_tab(run: T.TrainRun, done: dict[str, dict]) -> None:
    with_bn = {k: v for k, v in done.items() if v["bn"]}
    if not with_bn:
        st.info(_("No BatchNorm layer in the trained model(s)."), icon=":material/info:")
        return
    label = next(iter(with_bn))
    layers = list(dict.fromkeys(b.layer for b in with_bn[label]["bn"]))
    layer = st.selectbox(_("BatchNorm layer"), layers, key=KEY + "bn_layer")
    st.plotly_chart(_figure(run, ("bn", label, layer), lambda: P.bn_stats(
        with_bn[label]["bn"], layer)), width="stretch", theme=None, key=KEY + "bn")
    st.caption(_("Running mean and variance (what eval mode uses) and the learnt scale γ and "
                 "shift β of each channel, step by step."))


def _inside_tab(run: T.TrainRun, done: dict[str, dict]) -> None:
    """Per layer over training: gradient and weight norms, activation mean ± std and
    saturation, and one layer's distribution (from the run's LayerStats records)."""
    with_stats = {k: v["inside"] for k, v in done.items() if v.get("inside")}
    if not with_stats:
        st.info(_("No per-layer statistics in this run."), icon=":material/info:")
        return
    label = st.radio(_("run"), list(with_stats), horizontal=True, key=KEY + "inside_run") \
        if len(with_stats) > 1 else next(iter(with_stats))
    recs = with_stats[label]
    n = len({r.step for r in recs})
    st.plotly_chart(_figure(run, ("in_norms", label, n), lambda: PI.norms(recs)),
                    width="stretch", theme=None, key=KEY + "in_norms")
    st.caption(_("Each Conv/Linear layer's gradient norm, sampled on {n} steps (first layer "
                 "blue, last orange). With sigmoid and no BatchNorm the first layers' gradients "
                 "are orders of magnitude smaller than the last ones' (vanishing gradients), so "
                 "they barely learn.").format(n=n))
    st.plotly_chart(_figure(run, ("in_acts", label, n), lambda: PI.activations(recs)),
                    width="stretch", theme=None, key=KEY + "in_acts")
    st.caption(_("What each BatchNorm and activation puts out. After BatchNorm the mean stays "
                 "near 0 and the std near 1; a sigmoid's values piled up at 0 or 1 (saturated) "
                 "pass almost no gradient back."))
    layers = list(dict.fromkeys(r.layer for r in recs))
    left, right = st.columns([2, 1])
    layer = left.selectbox(_("layer"), layers, key=KEY + "in_layer")
    kinds = [k for k in ("act", "weight", "grad") if any(r.layer == layer and r.kind == k
                                                         for r in recs)]
    names = {"act": _("output"), "weight": _("weights"), "grad": _("gradients")}
    kind = right.radio(_("values"), kinds, format_func=names.get, horizontal=True,
                       key=KEY + "in_kind")
    st.plotly_chart(_figure(run, ("in_dist", label, layer, kind, n), lambda: PI.distribution(
        recs, layer, kind, kind_name=names[kind])), width="stretch", theme=None,
        key=KEY + "in_dist")


def _mistakes(run: T.TrainRun, label: str, res: T.TrainResult) -> None:
    if not res.confusion:
        st.info(_("No confusion matrix: the run ended before its first epoch."))
        return
    names = [html.escape(c) for c in res.classes]
    st.plotly_chart(_figure(run, ("cm", label), lambda: P.confusion(res.confusion, names)),
                    width="stretch", theme=None, key=KEY + "cm")
    if not res.worst:
        return
    ds = run.data
    idx = [i for i, *_ in res.worst]
    titles = [f"{names[t]}→{names[p]} {100 * q:.0f}%" for _, t, p, q in res.worst]
    st.plotly_chart(_figure(run, ("worst", label), lambda: P.image_grid(
        (ds.x_val[idx] * ds.std + ds.mean).numpy(), titles, cols=6)), width="stretch",
        theme=None, key=KEY + "worst")
    st.caption(_("The most confident mistakes on the validation split: true → predicted "
                 "(probability)."))


def _filters(run: T.TrainRun, label: str, res: T.TrainResult) -> None:
    filters = first_filters(res.state_dict)
    if filters is None:
        st.info(_("No convolution in the trained model."))
        return
    st.plotly_chart(_figure(run, ("filters", label), lambda: P.image_grid(
        filters.images, [str(i) for i in range(len(filters.images))], cols=12,
        height_per_row=80)), width="stretch", theme=None, key=KEY + "filters")
    st.text(f"{filters.layer}: {filters.shape} — " + _("the trained first-layer filters"))
    st.caption(_("The Feature maps page shows them too, with the maps of validation images "
                 "through the trained model (same configuration in the sidebar)."))


def _check_file(res: T.TrainResult, ds: D.DataSet | None) -> None:
    """Load a downloaded file again (``weights_only=True``) into the configuration it names
    and report its validation accuracy on the current data."""
    f = st.file_uploader(_("check a downloaded file"), type=["pt"], key=KEY + "load",
                         help=_("Read with torch.load(..., weights_only=True) only."))
    if f is None or ds is None:
        return
    try:
        # the memory budget is checked before the model the file names is built
        spec, sd, model = T.model_from_file(f.getvalue(), batch=min(512, len(ds.y_val)))
        acc = T.evaluate(model, sd, ds)
    except (T.TrainError, ConfigError) as exc:
        _fail(str(exc))
        return
    st.text(f"{spec.label}: " + _("validation accuracy {acc}% on {data}").format(acc=f"{100 * acc:.1f}", data=ds.summary()))
