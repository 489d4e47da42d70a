"""BatchNorm: per-channel batch statistics of any BN layer of the current model, the running
averages over K training-mode passes for momentum 0.1 / 1.0 / None, the manual formula checked
against the module, train vs eval — and seed 003's 4×3×2×2 example.

With a model of the same configuration trained in this session's Train lab, its weights are
the default (random weights stay choosable, :mod:`components.weights`): its running
statistics and learnt γ, β, on a batch of validation images from its training data.

Numbers come from :mod:`vizapp.labs.bn` (which works on deep copies: the cached model is
never changed); figures from :mod:`vizapp.render.plots_bn`. This module only renders."""

from __future__ import annotations

import hashlib

import streamlit as st

from vizapp.i18n import N_, _, deferred, tr
from vizapp.labs import bn
from vizapp.labs import train as train_lab
from vizapp.render import plots_bn
from vizapp.labs.features import FeatureError
from vizapp.runtime import RunError
from vizapp.zoo import ConfigError, ModelSpec

from . import state, text, weights
from .frame import Frame

KEY = "vz.bn."
MOMENTA = {"0.1": 0.1, "1.0": 1.0, N_("None (cumulative average)"): None}


MAX_BATCH = 256  # the page's batch inputs; a larger ?batch= is clamped with a note


def _model(spec: ModelSpec, batch: int = 2):
    """The model with seed-0 weights; shared between sessions, so only ever read (the BN
    functions deep-copy it before any train-mode pass). Refused on meta above the budget."""
    return state.real_model(spec, batch)


def _the_model(spec: ModelSpec, batch: int, token: str, trained: train_lab.Trained | None):
    """The random (seed-0) model, or the trained one when ``trained`` is given."""
    return _model(spec, batch) if trained is None else weights.trained_model(token, trained)


@st.cache_data(max_entries=32, show_spinner=False)
def _report(spec: ModelSpec, token: str, batch: int, seed: int, uploads: tuple[bytes, ...],
            layer: str, _trained: train_lab.Trained | None = None):
    """Full statistics of the chosen layer, and the input profile of every BN layer, from one
    training-mode pass: on the uploads, else on validation images of the training data
    (trained weights), else on a synthetic batch. ``token``: "random" or the trained
    weights' key (``_trained`` is not hashed)."""
    model = _the_model(spec, max(batch, len(uploads)), token, _trained)
    if uploads:
        import torch

        from vizapp.labs.features import image_to_input

        x = torch.cat([image_to_input(_decode(b), spec.input_shape) for b in uploads])
        return bn.analyze_bn(model, x=x, layers=[layer], model_name=spec.label)
    if _trained is not None:
        x, _y = _trained.validation(0, batch)
        return bn.analyze_bn(model, x=x, layers=[layer], model_name=spec.label,
                             source=deferred("{n} validation images of {data}", n=len(x),
                                             data=_trained.data.name))
    return bn.analyze_bn(model, spec.input_shape, batch=batch, seed=seed, layers=[layer],
                         model_name=spec.label)


@st.cache_data(max_entries=32, show_spinner=False)
def _evolution(spec: ModelSpec, token: str, layer: str, batch: int, steps: int, seed: int,
               _trained: train_lab.Trained | None = None):
    return bn.running_evolution(_the_model(spec, batch, token, _trained), layer,
                                spec.input_shape, batch=batch, steps=steps,
                                momenta=tuple(MOMENTA.values()), seed=seed)


@st.cache_data(max_entries=16)
def _demo(seed: int):
    return bn.seed_demo(seed)


def _decode(data: bytes):
    from vizapp.labs.features import decode_image

    return decode_image(data)


def _default_batch(spec: ModelSpec) -> int:
    """The spec's batch (at least 2 for train-mode BN), clamped to the page's maximum with a
    note instead of Streamlit's value-above-max error."""
    want = max(2, spec.batch)
    if want > MAX_BATCH:
        st.caption(":material/info: " + _("The link asks for batch {n}; this page runs at "
                   "most {m}, so it starts at {m}.").format(n=spec.batch, m=MAX_BATCH))
    return min(want, MAX_BATCH)


def _fail(cause: str, fix: str) -> None:
    text.failure(cause, fix)


def render(frame: Frame) -> None:
    spec = frame.spec
    st.header(_("BatchNorm"))
    st.markdown(
        _("A BN layer normalises **each channel** with the mean and variance of that channel over "
        "the batch and every spatial position — axes (N, H, W) for `BatchNorm2d`, (N,) for "
        "`BatchNorm1d`: `y = (x − mean) / sqrt(var + eps) · γ + β`. It normalises with the "
        "**biased** variance (÷ n) but stores the **unbiased** one (÷ (n − 1)) in "
        "`running_var`, and updates `running = (1 − momentum) · running + momentum · batch`."))
    trained = weights.choose(spec, KEY + "weights")
    tab_model, tab_running, tab_demo = st.tabs([_("Layer statistics"), _("Running statistics"),
                                                _("Seed demo 4×3×2×2")])
    try:
        with tab_demo:
            _render_demo()
        model = _model(spec)
        names = [n for n, _ in bn.bn_layers(model)]
        if not names:
            msg = _("**{label}** has no BatchNorm layer. Pick `lenet-bn`, a ResNet or a "
                    "DenseNet, or switch on a batch-norm knob in the sidebar if the family has "
                    "one. The seed demo tab works for any model.").format(label=spec.label)
            with tab_model:
                st.info(msg, icon=":material/info:")
            with tab_running:
                st.info(msg, icon=":material/info:")
            return
        with tab_model:
            _render_layers(spec, names, trained)
        with tab_running:
            _render_running(spec, names, trained)
    except RunError as exc:
        _fail(exc.cause, exc.fix)
    except FeatureError as exc:
        _fail(str(exc), _("upload another image, or use the synthetic batch."))
    except (bn.BNError, ConfigError) as exc:
        _fail(str(exc), _("use a batch of 2 or more, another layer, or another input size."))
    except Exception as exc:  # noqa: BLE001 - never a traceback on the page
        _fail(_("the BatchNorm statistics could not be computed: {error}").format(
            error=f"{type(exc).__name__}: {exc}"), _("try a smaller input or batch, or another model."))


def _layer_picker(names: list[str], key: str) -> str:
    default = st.session_state.get(KEY + "layer")
    if default not in names:
        default = state.view_param("bn_layer", None) or state.initial_param("bn_layer", None)
    if default not in names:
        default = names[0]
    layer = st.selectbox(_("BN layer ({n} in this model)").format(n=len(names)), names,
                         index=names.index(default), key=key)
    st.session_state[KEY + "layer"] = layer
    state.set_view_param("bn_layer", layer, default=names[0])
    return layer


def _render_layers(spec: ModelSpec, names: list[str], trained: train_lab.Trained | None) -> None:
    layer, batch, seed, uploads = _layer_inputs(spec, names, trained)
    token = trained.key if trained is not None else weights.RANDOM
    with st.spinner(_("Running one training-mode pass on a copy…")):
        report = _report(spec, token, int(batch), int(seed), uploads, layer, _trained=trained)
    s = report.layer(layer)
    _layer_intro(report, s, uploads, trained)
    _layer_metrics(s)
    _layer_charts(s)
    with st.expander(_("Per-channel numbers"), expanded=trained is not None):
        st.dataframe([{
            _("channel"): i, _("batch mean"): s.batch_mean[i],
            _("var biased"): s.batch_var_biased[i], _("var unbiased"): s.batch_var_unbiased[i],
            _("running_mean before"): s.running_mean_before[i],
            _("running_mean after"): s.running_mean_after[i],
            _("running_var before"): s.running_var_before[i],
            _("running_var after"): s.running_var_after[i], "γ": s.weight[i], "β": s.bias[i],
            _("out mean"): s.out_mean[i], _("out std"): s.out_std[i]}
            for i in range(s.num_features)], hide_index=True, width="stretch")
    if len(report.profile) > 1:
        st.subheader(_("Through the network"))
        st.plotly_chart(plots_bn.depth_profile(report), width="stretch", theme=None,
                        key=KEY + "fig_depth")
        st.caption(_("How far each BN layer's input is from mean 0, std 1 (averaged over its "
                     "channels) — the scale BN removes before the next layer."))


def _layer_inputs(spec: ModelSpec, names: list[str], trained: train_lab.Trained | None
                  ) -> tuple[str, int, int, tuple[bytes, ...]]:
    """(layer, batch, seed, uploaded images) from the row of widgets above the statistics."""
    c1, c2, c3, c4 = st.columns([3, 1, 1, 2])
    with c1:
        layer = _layer_picker(names, KEY + "layer_stats")
    with c2:
        batch = st.number_input(_("batch N"), 1, MAX_BATCH, _default_batch(spec), key=KEY + "batch",
                                help=_("Synthetic batch size (train-mode BN needs N·H·W ≥ 2)."))
    with c3:
        if trained is None:
            seed = st.number_input(_("seed"), 0, 10_000, 0, key=KEY + "seed")
        else:
            seed = 0
            st.caption(_("Batch: the first N validation images of the training data."))
    with c4:
        files = st.file_uploader(_("or upload images (one batch)"), type=["png", "jpg", "jpeg"],
                                 accept_multiple_files=True, key=KEY + "upload")
    uploads = tuple(f.getvalue() for f in files or ())
    if len(uploads) == 1:
        st.caption(_("One uploaded image = batch 1: BatchNorm1d layers (after Linear) then see "
                     "one value per channel and cannot run in train mode."))
    return layer, batch, seed, uploads


def _layer_intro(report, s, uploads: tuple[bytes, ...], trained: train_lab.Trained | None) -> None:
    """Which weights and which batch the numbers come from, and what one channel averages."""
    if trained is not None:
        st.info(_("Trained weights: `running_mean`/`running_var` *before* this pass are the "
                  "running statistics the model learnt in the Train lab (what eval mode "
                  "normalises with), and γ, β are its learnt scale and shift — see "
                  "**Per-channel numbers**."), icon=":material/school:")
    digest = hashlib.sha1(b"".join(uploads)).hexdigest()[:8] if uploads else ""
    st.caption(f"{text.esc(tr(report.source))}{' ' + digest if digest else ''}: " + text.md(_(
        "model input {inp} → {name} input {shape}; each channel averages n = {n} values "
        "({dims})."), inp=tuple(report.input_shape), name=text.code(s.name), shape=s.input_shape,
        n=f"{s.values_per_channel:,}",
        dims=' · '.join(str(d) for i, d in enumerate(s.input_shape) if i != 1)))


def _layer_metrics(s) -> None:
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("channels"), s.num_features)
    m2.metric(_("max |manual − module|"), f"{s.max_abs_diff_manual:.2e}",
              help=_("(x − mean)/sqrt(var_biased + eps)·γ + β computed by hand in float64 vs "
                     "the module's train-mode output."))
    m3.metric(_("max |train − eval|"), f"{s.max_abs_diff_train_eval:.3g}",
              help=_("Train mode uses this batch's statistics; eval mode uses running_mean/var "
                     "(fresh buffers 0 and 1 normalise almost nothing, hence the difference)."))
    m4.metric("eps / momentum", f"{s.eps:g} / {s.momentum if s.momentum is not None else 'None'}")


def _layer_charts(s) -> None:
    """Per-channel batch statistics, the variance ratio, the output statistics and one
    channel's distribution."""
    st.plotly_chart(plots_bn.channel_stats(s), width="stretch", theme=None,
                    key=KEY + "fig_stats")
    st.markdown(
        _("Variance: biased ÷ {n}, unbiased ÷ {n1} — the ratio n/(n−1) = {r}. "
          "`running_var` moves toward the **unbiased** bars.").format(
            n=s.values_per_channel, n1=s.values_per_channel - 1,
            r=f"{s.values_per_channel / max(s.values_per_channel - 1, 1):.4f}"))
    left, right = st.columns(2)
    with left:
        st.plotly_chart(plots_bn.output_stats(s), width="stretch", theme=None,
                        key=KEY + "fig_out")
        st.caption(_("Train-mode output: per-channel mean ≈ β and std ≈ |γ| (≈ 0 and 1 for "
                     "fresh γ = 1, β = 0; the std is sqrt(var/(var + eps)), a hair under 1)."))
    with right:
        ch = st.slider(_("channel"), 0, max(len(s.sample_in) - 1, 0), 0, key=KEY + "hist_ch")\
            if len(s.sample_in) > 1 else 0
        st.plotly_chart(plots_bn.distribution(s, ch), width="stretch", theme=None,
                        key=KEY + "fig_hist")


def _render_running(spec: ModelSpec, names: list[str], trained: train_lab.Trained | None) -> None:
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    with c1:
        layer = _layer_picker(names, KEY + "layer_running")
    with c2:
        steps = st.slider(_("K passes"), 1, 100, 10, key=KEY + "steps")
    with c3:
        batch = st.number_input(_("batch N"), 1, MAX_BATCH, _default_batch(spec),
                                key=KEY + "ev_batch")
    with c4:
        seed = st.number_input(_("first seed"), 0, 10_000, 0, key=KEY + "ev_seed",
                               help=_("Pass k uses a fresh randn batch with seed + k."))
    chosen = st.multiselect(_("momentum"), list(MOMENTA), list(MOMENTA), key=KEY + "momenta",
                            format_func=tr)
    token = trained.key if trained is not None else weights.RANDOM
    with st.spinner(_("Running K training-mode passes on a copy…")):
        evos = _evolution(spec, token, layer, int(batch), int(steps), int(seed),
                          _trained=trained)
    if trained is not None:
        st.caption(_("The passes start from the trained running statistics (the curves' first "
                     "point) and feed fresh randn batches, so every momentum drifts away from "
                     "what training stored."))
    shown = [e for e in evos if bn.momentum_label(e.momentum) in
             {bn.momentum_label(MOMENTA[c]) for c in chosen}]
    k = len(evos[0].channels)
    c5, c6 = st.columns([1, 3])
    with c5:
        stat = st.radio(_("statistic"), ["mean", "var"], horizontal=True, key=KEY + "stat")
        ch = st.number_input(_("channel (first {k} kept)").format(k=k), 0, k - 1, 0, key=KEY + "ev_ch")
    with c6:
        st.plotly_chart(plots_bn.evolution(shown, int(ch), stat), width="stretch",
                        theme=None, key=KEY + "fig_evo")
    st.markdown(
        _("- **momentum 1.0** copies the last batch: `running = batch`.\n"
        "- **momentum 0.1** is an exponential moving average: after k passes from 0 it has "
        "covered 1 − 0.9ᵏ of the way (65 % after 10 passes) — seed 003's 'missing decimal "
        "point' after one pass.\n"
        "- **momentum None** is the cumulative average: `running ← running + (batch − "
        "running)/t`, exactly the mean of all batches so far (it lies on the dashed line)."))


def _render_demo() -> None:
    seed = st.columns([1, 4])[0].number_input("torch.manual_seed(S)", 0, 1_000_000, 0,
                                              key=KEY + "demo_seed")
    d = _demo(int(seed))
    st.code(f"torch.manual_seed({d.seed})\nx = torch.randn(4, 3, 2, 2)\nm = nn.BatchNorm2d(3)"
            f"  # momentum 0.1, then 1.0, fresh buffers each\ny = m(x)  # training mode",
            language="python")
    left, right = st.container(), st.container()  # stacked: the table needs the width for 3 ch
    with left:
        st.plotly_chart(plots_bn.demo_tensor(d), width="stretch", theme=None,
                        key=KEY + "fig_demo")
        st.caption(_("Each column is one channel: BN averages its 4 samples × 2 × 2 = 16 numbers."))
    with right:
        rows = [(_("batch mean"), d.batch_mean), (_("var biased (÷16)"), d.batch_var_biased),
                (_("var unbiased (÷15)"), d.batch_var_unbiased),
                ("running_mean, momentum 0.1", d.running_mean["0.1"]),
                ("running_mean, momentum 1.0", d.running_mean["1.0"]),
                ("running_var, momentum 0.1", d.running_var["0.1"]),
                ("running_var, momentum 1.0", d.running_var["1.0"]),
                (_("output mean"), d.output_mean), (_("output std"), d.output_std)]
        st.dataframe([{"": name, **{f"ch {j}": v[j] for j in range(3)}} for name, v in rows],
                     hide_index=True, width="stretch", key=KEY + "demo_table",
                     column_config={f"ch {j}": st.column_config.NumberColumn(format="%.4f")
                                    for j in range(3)})
        st.metric(_("max |manual − module|"), f"{d.max_abs_diff_manual_vs_module:.2e}")
    st.markdown(
        _("With momentum 0.1 the running mean is a tenth of the batch mean — the seed's "
        "\"differs by a decimal point\" — and with `m.momentum = 1` it equals it. running_var "
        "starts at 1: `0.9 · 1 + 0.1 · var_unbiased`. Same numbers from the command line: "
        "`vizapp bn --demo --seed {seed} --format json`.").format(seed=d.seed))
