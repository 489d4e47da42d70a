"""Feature maps: the first channels of a chosen layer's output for an input picture — a drawn
digit, a synthetic pattern or an uploaded image — so the Shapes page's numbers become images.

With a model of the same configuration trained in this session's Train lab, its weights are
the default (random weights stay choosable, :mod:`components.weights`): the maps of a
validation image from the training data, and the trained first-layer filters.

Numbers from :mod:`vizapp.labs.features` (eval mode, on a deep copy of the cached model);
figures from :mod:`vizapp.render.plots_features`. This module only renders."""

from __future__ import annotations

import streamlit as st

from vizapp.i18n import N_, _, tr
from vizapp.labs import features
from vizapp.labs import train as train_lab
from vizapp.render import plots_features, plots_train
from vizapp.runtime import RunError
from vizapp.zoo import ConfigError, ModelSpec

from . import state, text, weights
from .frame import Frame

KEY = "vz.feat."
LABELS = {"val": N_("validation image (training data)"), "digit": N_("drawn digit"),
          "checkerboard": N_("checkerboard"),
          "stripes": N_("diagonal stripes"), "gradient": N_("gradient"), "rings": N_("rings"),
          "noise": N_("noise"), "upload": N_("upload an image")}


def _model(spec: ModelSpec):
    """Seed-0 weights, shared between sessions and only read (runs use a deep copy); refused
    on meta, with the numbers, above the byte budget."""
    return state.real_model(spec, batch=1)


@st.cache_data(max_entries=8, show_spinner=False)
def _layers(spec: ModelSpec) -> list[tuple[str, str]]:
    return features.feature_layers(_model(spec))


def _weights(spec: ModelSpec, token: str, trained: train_lab.Trained | None):
    """The random (seed-0) model, or the trained one when ``trained`` is given."""
    return _model(spec) if trained is None else weights.trained_model(token, trained)


def _input(spec: ModelSpec, kind: str, digit: int, seed: int, upload: bytes, index: int,
           trained: train_lab.Trained | None):
    if kind == "val" and trained is not None:
        return trained.validation(index)[0]
    if kind == "upload":
        return features.image_to_input(features.decode_image(upload), spec.input_shape)
    return features.make_input(kind, spec.input_shape, digit=digit, seed=seed)


@st.cache_data(max_entries=16, show_spinner=False)
def _maps(spec: ModelSpec, token: str, layer: str, kind: str, digit: int, seed: int,
          upload: bytes, index: int, max_channels: int, _trained: train_lab.Trained | None = None):
    """``token``: "random", or the key of the trained weights (``_trained``, not hashed)."""
    x = _input(spec, kind, digit, seed, upload, index, _trained)
    return features.feature_maps(_weights(spec, token, _trained), layer, x,
                                 max_channels=max_channels)


@st.cache_data(max_entries=16, show_spinner=False)
def _prediction(token: str, index: int, _trained: train_lab.Trained) -> tuple[str, str, float]:
    """(true class, predicted class, its probability) of one validation image."""
    x, (true,) = _trained.validation(index)
    pred, p = train_lab.predict(weights.trained_model(token, _trained), x)
    names = _trained.data.classes
    return names[true], names[pred] if pred < len(names) else str(pred), p


@st.cache_data(max_entries=16, show_spinner=False)
def _filters(spec: ModelSpec, token: str, _trained: train_lab.Trained | None = None):
    sd = _trained.state_dict if _trained is not None else _model(spec).state_dict()
    return features.first_filters(sd)


def _fail(cause: str, fix: str) -> None:
    text.failure(cause, fix)


def render(frame: Frame) -> None:
    spec = frame.spec
    st.header(_("Feature maps"))
    trained = weights.choose(spec, KEY + "weights")
    token = trained.key if trained is not None else weights.RANDOM
    _intro(trained)
    try:
        with st.spinner(_("Building the model…")):
            layers = _layers(spec)
        if not layers:
            _fail(_("{label} has no sub-modules to look inside.").format(label=spec.label),
                  _("pick another model."))
            return
        picked = _pick(spec, layers, trained)
        if picked is None:  # waiting for an upload
            return
        view = _view_options()
        with st.spinner(_("Running the model up to the layer…")):
            fm = _maps(spec, token, *picked, int(view[0]), _trained=trained)
            index, kind = picked[5], picked[1]
            pred = _prediction(token, index, trained) if kind == "val" and trained else None
            filters = _filters(spec, token, _trained=trained)
    except RunError as exc:
        _fail(exc.cause, exc.fix)
        return
    except features.FeatureError as exc:
        _fail(str(exc), _("pick another layer or input (or upload another image)."))
        return
    except ConfigError as exc:
        _fail(str(exc), _("pick an input size the model accepts."))
        return
    except Exception as exc:  # noqa: BLE001 - never a traceback on the page
        _fail(_("the feature maps could not be computed: {error}").format(
            error=f"{type(exc).__name__}: {exc}"), _("try another layer, a smaller input or another model."))
        return
    _draw(fm, pred, *view[1:])
    _render_filters(filters, trained)


def _intro(trained: train_lab.Trained | None) -> None:
    if trained is None:
        st.caption(_("What one layer outputs for one picture: each tile is one channel (an H×W "
                   "plane of the N×C×H×W activation). Random filters show what the shapes and "
                   "receptive fields do to the picture — edges and blobs — not learnt "
                   "features."))
    else:
        st.caption(_("What one layer outputs for one picture: each tile is one channel (an H×W "
                   "plane of the N×C×H×W activation). These weights were learnt in the Train "
                   "lab, so the maps show the features the network learnt to pick out — try a "
                   "validation image from its training data, then switch to random weights."))


def _pick(spec: ModelSpec, layers: list[tuple[str, str]], trained: train_lab.Trained | None
          ) -> tuple[str, str, int, int, bytes, int] | None:
    """(layer, input kind, digit, seed, uploaded bytes, validation index) from the first row
    of widgets; None while an upload is awaited (the reason is shown)."""
    c1, c2, c3 = st.columns([3, 2, 2])
    with c1:
        layer = _pick_layer(layers)
    with c2:
        kinds = [k for k in LABELS if k != "val" or trained is not None]
        if st.session_state.get(KEY + "kind") not in kinds:
            st.session_state.pop(KEY + "kind", None)  # the first: "val" when trained
        kind = st.selectbox(_("input"), kinds, format_func=lambda k: tr(LABELS[k]),
                            key=KEY + "kind")
    with c3:
        got = _pick_input(spec, kind, trained)
    if got is None:
        return None
    digit, seed, upload, index = got
    return layer, kind, int(digit), int(seed), upload, int(index)


def _pick_layer(layers: list[tuple[str, str]]) -> str:
    """The layer selectbox: the session's choice, else the link's, else the first conv."""
    names = [n for n, _ in layers]
    types = dict(layers)
    want = st.session_state.get(KEY + "layer")
    if want not in names:
        want = state.view_param("fm_layer", None) or state.initial_param("fm_layer")
    default = want if want in names else features.default_layer(layers)
    layer = st.selectbox(_("layer"), names, index=names.index(default),
                         format_func=lambda n: f"{n}  ({types[n]})", key=KEY + "layer")
    state.set_view_param("fm_layer", layer, default=features.default_layer(layers))
    return layer


def _pick_input(spec: ModelSpec, kind: str, trained: train_lab.Trained | None
                ) -> tuple[int, int, bytes, int] | None:
    """(digit, seed, upload, validation index): the one widget the input kind needs."""
    digit, seed, upload, index = 7, 0, b"", 0
    if kind == "val" and trained is not None:
        n_val = len(trained.data.y_val)
        if not 0 <= st.session_state.get(KEY + "val", 0) < n_val:  # another run's
            st.session_state.pop(KEY + "val", None)
        index = st.number_input(_("validation image (0–{last})").format(last=n_val - 1),
                                0, n_val - 1, 0, key=KEY + "val")
    elif kind == "digit":
        digit = st.slider(_("digit"), 0, 9, 7, key=KEY + "digit")
    elif kind == "noise":
        seed = st.number_input(_("seed"), 0, 10_000, 0, key=KEY + "seed")
    elif kind == "upload":
        f = st.file_uploader(_("image"), type=["png", "jpg", "jpeg"], key=KEY + "file")
        if f is None:
            st.info(_("Upload a PNG or JPEG; it is resized to the model's input "
                      "{h}×{w} and converted to {c} channel(s).").format(
                h=spec.input_shape[1], w=spec.input_shape[2], c=spec.input_shape[0]),
                icon=":material/upload:")
            return None
        upload = f.getvalue()
    return digit, seed, upload, index


def _view_options() -> tuple[int, int, str, bool]:
    """(channels shown, columns, colour scale, one scale for all) from the second row."""
    c4, c5, c6, c7 = st.columns(4)
    with c4:
        k = st.slider(_("channels shown"), 1, 64, 16, key=KEY + "k")
    with c5:
        cols = st.slider(_("columns"), 1, 8, 4, key=KEY + "cols")
    with c6:
        cmap = st.selectbox(_("colours"), ["Viridis", "gray", "RdBu", "Inferno", "Cividis"],
                            key=KEY + "cmap")
    with c7:
        shared = st.toggle(_("one colour scale for all"), False, key=KEY + "shared",
                           help=_("Off: each tile stretches its own min…max (shapes are "
                                  "visible). On: one scale (strengths are comparable)."))
    return k, cols, cmap, shared


def _draw(fm: features.FeatureMaps, pred: tuple[str, str, float] | None, cols: int, cmap: str,
          shared: bool) -> None:
    left, right = st.columns([1, 4])
    with left:
        st.plotly_chart(plots_features.input_image(fm.image, _("input {shape}").format(shape=fm.input_shape[1:])),
                        width="stretch", theme=None, key=KEY + "fig_in")
        st.markdown(text.md("**{}** ({})", fm.layer, fm.type) + "  \n" + _("out **{shape}**").format(
            shape=tuple(fm.output_shape)) + "  \n" + _("showing {n} of {total} channels").format(
            n=len(fm.channels), total=fm.total_channels))
        if pred is not None:
            st.text(_("true class: {true}\npredicted: {pred} ({p}%)").format(
                true=pred[0], pred=pred[1], p=f"{100 * pred[2]:.0f}"))
        if fm.note:
            text.caption(fm.note)
    with right:
        st.plotly_chart(plots_features.feature_grid(fm, cols, cmap, shared), width="stretch",
                        theme=None, key=KEY + "fig_grid")
    with st.expander(_("Value range per channel")):
        st.plotly_chart(plots_features.channel_ranges(fm), width="stretch", theme=None,
                        key=KEY + "fig_ranges")
        st.caption(_("A channel stuck at 0 after a ReLU is 'dead' for this input."))


def _render_filters(filters: features.Filters | None, trained: train_lab.Trained | None) -> None:
    st.subheader(_("First-layer filters"))
    if filters is None:
        st.info(_("No convolution in this model."), icon=":material/info:")
        return
    which = _("trained") if trained is not None else _("random (seed 0)")
    st.plotly_chart(plots_train.image_grid(filters.images, [str(i) for i in range(
        len(filters.images))], cols=12, height_per_row=80), width="stretch", theme=None,
        key=KEY + "fig_filters")
    st.text(_("{name} {shape}, {which} weights: each kernel is drawn on its own grey scale "
              "(black = its smallest weight, white = its largest)").format(
        name=filters.layer, shape=filters.shape, which=which)
        + (_("; averaged over the input channels") if filters.averaged else ""))
