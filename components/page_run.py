"""Run: real forward passes of the current model on the best available device — latency p50/p95,
throughput, peak memory; a batch-size sweep; activation memory per stage next to the static
estimate.

Runs go through :mod:`vizapp.runtime` (one lock per device for the whole server, a bounded
model cache, a memory estimate that refuses impossible batches, CUDA OOM caught and released);
figures from :mod:`vizapp.render.plots_run`. Results are kept in the session so a rerun of the
script does not repeat a timing."""

from __future__ import annotations

import json

import streamlit as st

from vizapp.fmt import bytes_text
from vizapp.i18n import _
from vizapp.render import plots_run
from vizapp.runtime import (DTYPES, RunError, RunOptions, available_devices, estimate_memory,
                            lock_for, resolve_device, run_spec, stage_memory, sweep)
from vizapp.runtime import cached_model, check_build, spec_profile, suggest_batch
from vizapp.zoo import ConfigError, ModelSpec

from . import text, weights
from .frame import Frame

KEY = "vz.run."
MAX_SECONDS = 60.0  # a timed loop on the page never runs longer than this
SWEEP_DEFAULT = "1,2,4,8,16,32,64"


@st.cache_data(max_entries=64, show_spinner=False)
def _estimate(spec: ModelSpec, device: str, batch: int, dtype: str):
    dev = resolve_device(device)
    check_build(spec, 1)  # the weights, on meta, before any is allocated (BuildRefused)
    model = cached_model(spec, dev)
    return estimate_memory(model, spec.input_shape, batch, dtype, dev,
                           profile=spec_profile(spec))


def _fail(cause: str, fix: str = "") -> None:
    text.failure(cause, fix)


def _run_error(exc: RunError) -> None:
    _fail(exc.cause, exc.fix)


def render(frame: Frame) -> None:
    spec = frame.spec
    st.header(_("Run"))
    _intro(spec)
    opts = _options(spec)
    est = _estimate_shown(spec, opts)
    if est is None:
        return
    run_tab, sweep_tab, stage_tab = st.tabs([_("Timed run"), _("Batch-size sweep"),
                                             _("Activation memory per stage")])
    with run_tab:
        _render_run(spec, opts, est.fits)
    with sweep_tab:
        _render_sweep(spec, opts)
    with stage_tab:
        _render_stages(spec, opts, est.fits)


def _intro(spec: ModelSpec) -> None:
    st.caption(_("Real forward passes with real (randomly initialised) weights: a few warm-up "
               "passes, then timed ones — CUDA events on a GPU, perf_counter on the CPU — under "
               "`torch.inference_mode()`. One run at a time per device for the whole server; "
               "batches the memory estimate says cannot fit are refused before anything runs."))
    trained = weights.trained_runs(spec)
    if trained:
        st.info(text.md(_("A model of this configuration was trained in the Train lab "
                          "({labels}). Its timings are these: a forward pass costs the same "
                          "with trained or random weights (the same layers and shapes), so "
                          "this page times the random ones."),
                        labels=", ".join(t.label for t in trained)), icon=":material/school:")


def _options(spec: ModelSpec) -> RunOptions:
    """The run's options from the two rows of widgets."""
    devices = available_devices()
    labels = {d.name: d.label for d in devices}
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    with c1:
        device = st.selectbox(_("device"), list(labels), format_func=labels.get,
                              key=KEY + "device", help=_("The best available is first."))
    with c2:
        batch = int(st.number_input(_("batch"), 1, 65536, max(1, spec.batch), key=KEY + "batch"))
    with c3:
        iters = int(st.number_input(_("timed iterations"), 1, 1000, 20, key=KEY + "iters"))
    with c4:
        warmup = int(st.number_input(_("warm-up"), 0, 50, 3, key=KEY + "warmup"))
    c5, c6, c7, c8 = st.columns([2, 1, 1, 2])
    with c5:
        dtype = st.radio(_("precision"), list(DTYPES), horizontal=True, key=KEY + "dtype",
                         help=_("bf16/fp16 run under torch.autocast (weights stay fp32)."))
    with c6:
        channels_last = st.toggle("channels_last", False, key=KEY + "cl",
                                  help=_("NHWC memory format (faster convolutions on GPUs with "
                                         "tensor cores)."))
    with c7:
        compile_ = st.toggle("torch.compile", False, key=KEY + "compile",
                             help=_("Compiles on the first warm-up pass (tens of seconds)."))
    if device == "cpu" and dtype == "fp16":
        c8.caption(_("fp16 autocast on a CPU is usually slower than fp32; bf16 is the CPU's "
                     "half type."))
    return RunOptions(device=device, batch=batch, iters=iters, warmup=warmup, dtype=dtype,
                      channels_last=channels_last, compile=compile_, max_seconds=MAX_SECONDS)


def _estimate_shown(spec: ModelSpec, opts: RunOptions):
    """The memory estimate of a run with ``opts``, said (a refusal when it does not fit),
    and the device's queue; None (after saying why) when the model cannot be built."""
    device, batch = opts.device, opts.batch
    try:
        est = _estimate(spec, device, batch, opts.dtype)
    except ConfigError as exc:
        _fail(str(exc), _("fix the configuration in the sidebar."))
        return None
    except RunError as exc:
        _run_error(exc)
        return None
    except Exception as exc:  # noqa: BLE001
        _fail(_("the model could not be built on {device}: {error}").format(
            device=device, error=f"{type(exc).__name__}: {exc}"),
              _("pick another device or a smaller model."))
        return None
    msg = _("Estimate: {text}.").format(text=est.text())
    if not est.fits:
        fits = suggest_batch(est.max_batch)
        _fail(_("Batch {n} will not fit.").format(n=batch) + f" {msg}",
              _("use a batch of {n} or less.").format(n=fits) if fits
              else _("use a smaller input."))
    else:
        st.caption(text.esc(msg, 1000))  # names the largest layer: a module name is user text
    lock = lock_for(device)
    if lock.busy:
        st.info(_("{device} is busy with {holder}; {n} more waiting. Your run will queue."
                  ).format(device=device, holder=lock.holder, n=lock.waiting),
                icon=":material/hourglass_top:")
    return est


def _session_key(kind: str, spec: ModelSpec, opts: RunOptions) -> tuple:
    return (kind, spec, opts)


def _render_run(spec: ModelSpec, opts: RunOptions, fits: bool) -> None:
    results = st.session_state.setdefault(KEY + "results", {})
    key = _session_key("run", spec, opts)
    if st.button(_("Run"), type="primary", key=KEY + "go", disabled=not fits):
        try:
            with st.spinner(text.md(_("Timing {label} on {device}…"), label=spec.label,
                                    device=opts.device)):
                results[key] = run_spec(spec, opts)
        except RunError as exc:
            _run_error(exc)
        except Exception as exc:  # noqa: BLE001
            _fail(_("the run failed: {error}").format(error=f"{type(exc).__name__}: {exc}"),
                  _("try a smaller batch, fp32, or switch torch.compile off."))
    r = results.get(key)
    if r is None:
        st.caption(_("Press **Run** to time this configuration."))
        return
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("latency p50"), f"{r.latency_ms_p50:.3g} ms")
    m2.metric(_("latency p95"), f"{r.latency_ms_p95:.3g} ms")
    m3.metric(_("throughput"), f"{r.throughput:,.0f} /s", help=_("samples per second"))
    m4.metric(_("peak memory"), bytes_text(r.peak_memory_bytes), help=r.memory_method)
    st.plotly_chart(plots_run.latencies(r), width="stretch", theme=None, key=KEY + "fig_lat")
    st.caption(f"{r.device_name}, " + _("batch {n}").format(n=r.batch) + f", {r.dtype}"
               f"{', channels_last' if r.channels_last else ''}"
               + (_(", compiled") if r.compiled else "") + ": " + _(
                   "{w} warm-up + {i} timed passes; weights {b}; waited {s} s for the device."
               ).format(w=r.warmup, i=r.iters, b=bytes_text(r.param_bytes), s=f"{r.waited_s:.2f}"))
    for n in r.notes:
        st.caption(text.md(_("Note: {text}"), text=n))
    st.download_button(_("result as JSON"), json.dumps(r.to_dict(), indent=2),
                       file_name="run.json", mime="application/json", key=KEY + "dl")


def _render_sweep(spec: ModelSpec, opts: RunOptions) -> None:
    text = st.text_input(_("batch sizes"), SWEEP_DEFAULT, key=KEY + "sweep_batches",
                         help=_("Comma-separated; larger batches stop after the first that does "
                                "not fit."))
    try:
        batches = sorted({int(b) for b in text.replace(" ", "").split(",") if b})
        if not batches or batches[0] < 1 or len(batches) > 16:
            raise ValueError
    except ValueError:
        _fail(_("cannot read the batch sizes '{text}'.").format(text=text),
              _("give up to 16 positive integers like 1,2,4,8."))
        return
    results = st.session_state.setdefault(KEY + "sweeps", {})
    key = _session_key("sweep", spec, opts) + (tuple(batches),)
    if st.button(_("Run sweep"), key=KEY + "sweep_go"):
        sweep_opts = RunOptions(**{**opts.__dict__, "iters": min(opts.iters, 10)})
        bar = st.progress(0.0, text=_("Timing {n} batch sizes (at most {s} s in all)…").format(
            n=len(batches), s=f"{MAX_SECONDS:.0f}"))

        def progress(i: int, n: int, point) -> None:
            what = _("done") if point.result is not None else _("skipped")
            bar.progress((i + 1) / n, text=_("batch {n}").format(n=point.batch)
                         + f": {what} ({i + 1}/{n})")

        try:
            results[key] = sweep(spec, sweep_opts, batches, budget_s=MAX_SECONDS,
                                 on_point=progress)
        except RunError as exc:
            _run_error(exc)
        except Exception as exc:  # noqa: BLE001
            _fail(_("the sweep failed: {error}").format(error=f"{type(exc).__name__}: {exc}"), _("use smaller batches."))
        finally:
            bar.empty()
    sw = results.get(key)
    if sw is None:
        st.caption(_("Press **Run sweep** (at most 10 timed passes per batch size and "
                     "{s} s for the whole sweep; batch sizes left when the time "
                     "is up are skipped, and the table says so).").format(s=f"{MAX_SECONDS:.0f}"))
        return
    st.plotly_chart(plots_run.sweep(sw), width="stretch", theme=None, key=KEY + "fig_sweep")
    st.dataframe([{
        "batch": p.batch,
        "p50 ms": round(p.result.latency_ms_p50, 3) if p.result else None,
        "throughput /s": round(p.result.throughput, 1) if p.result else None,
        "peak memory": bytes_text(p.result.peak_memory_bytes) if p.result else None,
        "estimate": bytes_text(p.result.estimate.total_bytes) if p.result and
        p.result.estimate else None,
        "note": p.error or ""} for p in sw.points], hide_index=True, width="stretch")


def _render_stages(spec: ModelSpec, opts: RunOptions, fits: bool) -> None:
    st.caption(_("One forward pass with a hook on every top-level child module: the bytes of "
                 "each stage's output (measured) next to the static estimate (output shape × "
                 "{n} bytes), and on CUDA the peak allocation while "
                 "the stage ran.").format(n=DTYPES[opts.dtype].itemsize))
    results = st.session_state.setdefault(KEY + "stages", {})
    key = _session_key("stages", spec, opts)
    if st.button(_("Measure"), key=KEY + "stage_go", disabled=not fits):
        try:
            with st.spinner(_("One forward pass with hooks…")):
                results[key] = stage_memory(spec, opts)
        except RunError as exc:
            _run_error(exc)
        except Exception as exc:  # noqa: BLE001
            _fail(_("the measurement failed: {error}").format(error=f"{type(exc).__name__}: {exc}"),
                  _("use a smaller batch."))
    stages = results.get(key)
    if stages is None:
        return
    st.plotly_chart(plots_run.stage_memory(stages), width="stretch", theme=None,
                    key=KEY + "fig_stages")
    st.dataframe([{"stage": s.name, "type": s.type, "output shape": str(s.output_shape),
                   "measured output": bytes_text(s.output_bytes),
                   "estimate": bytes_text(s.estimate_bytes),
                   "peak while running": bytes_text(s.peak_bytes) if s.peak_bytes is not None
                   else "— (CUDA only)"} for s in stages], hide_index=True, width="stretch")
