"""Inside a layer: click an output pixel of any layer and see the numbers that made it — the
input window (padding as zeros), the kernel, the products, their sum per input channel and in
total, the bias, the result next to the real forward's value, the BN and activation after it,
and the pixel's receptive field on the input.

Numbers from :mod:`vizapp.labs.explain` (one partial forward pass per pixel, on a deep copy of
the cached model), figures and table rows from :mod:`vizapp.render.plots_explain`; this module
only reads the choices and draws. The link keeps ``layer``, ``at`` (c,h,w) and ``src`` (the
input kind)."""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np
import streamlit as st

from vizapp.i18n import N_, _, tr
from vizapp.labs import explain, features
from vizapp.labs import train as train_lab
from vizapp.render import plots_explain
from vizapp.render.dot import parse_id
from vizapp.runtime import RunError
from vizapp.zoo import ModelSpec

from . import draw_input, explain_parts, state, text, weights
from .frame import Frame

KEY = "vz.explain."
LABELS = {"val": N_("validation image (training data)"), "digit": N_("generated digit"),
          "draw": N_("draw a digit"), "checkerboard": N_("checkerboard"),
          "stripes": N_("diagonal stripes"), "rings": N_("rings"), "noise": N_("noise"),
          "upload": N_("upload an image")}


@st.cache_data(max_entries=8, show_spinner=False)
def _layers(spec: ModelSpec) -> list[tuple[str, str]]:
    """(path, type) of the modules this page takes apart, in definition order."""
    model = state.real_model(spec, batch=1)
    return [(n, type(m).__name__) for n, m in model.named_modules()
            if n and explain.kind_of(m) and not (explain.kind_of(m) == "block"
                                                 and type(m).__name__ in ("Sequential",
                                                                          "ModuleList"))]


def _input(spec: ModelSpec, choice: tuple, trained: train_lab.Trained | None):
    kind, digit, seed, data, index = choice
    if kind == "val" and trained is not None:
        return trained.validation(index)[0]
    if kind == "upload":
        return features.image_to_input(features.decode_image(data), spec.input_shape)
    if kind == "draw":
        return features.image_to_input(draw_input.from_bytes(data), spec.input_shape)
    return features.make_input(kind, spec.input_shape, digit=digit, seed=seed)


@st.cache_resource(max_entries=2, show_spinner=False)
def _own_copy(spec: ModelSpec, token: str, _trained: train_lab.Trained | None = None
              ) -> tuple[Any, threading.Lock]:
    """This page's own copy of the model (one per configuration and weights, for every
    session) and the lock its clicks take turns under: the breakdown hooks the modules it
    runs, so it never runs on the shared cached model (whose deep copies would carry the
    hooks) and never deep-copies per click (tens of ms for a ResNet-50)."""
    model = state.real_model(spec, batch=1) if _trained is None else \
        weights.trained_model(token, _trained)
    return copy.deepcopy(model).eval(), threading.Lock()


@st.cache_data(max_entries=32, show_spinner=False)
def _breakdown(spec: ModelSpec, token: str, layer: str, choice: tuple, at: tuple[int, ...],
               _trained: train_lab.Trained | None = None, _analysis: Any = None):
    """The breakdown and the displayed input (``token``: "random" or the trained run's key)."""
    x = _input(spec, choice, _trained)
    model, lock = _own_copy(spec, token, _trained=_trained)
    with lock:
        b = explain.explain(model, layer, x, at, analysis=_analysis, private=True)
    return b, features.display_image(x)


def _out_shape(analysis: Any, layer: str) -> tuple[int, ...] | None:
    """The layer's output shape (batch left out) from the analysis."""
    if analysis is None:
        return None
    node = next((n for n in analysis.nodes if n.module_path == layer
                 and n.module_type[:1].isupper()), None)
    shape = node.output_shape if node is not None else getattr(
        analysis.block_index().get(layer), "output_shape", None)
    return tuple(shape[1:]) if shape else None


def render(frame: Frame) -> None:
    """Read the choices, compute one breakdown, draw it."""
    spec, a = frame.spec, frame.analysis
    st.header(_("Inside a layer"))
    trained = weights.choose(spec, KEY + "weights")
    token = trained.key if trained is not None else weights.RANDOM
    st.caption(_("Pick a layer and an input, then click a pixel of the layer's output (or type "
                 "its channel, row and column): below are the numbers that made that one "
                 "value, and the part of the input it sees."))
    try:
        layers = _layers(spec)
        if not layers:
            text.failure(_("{label} has no layer this page can take apart.").format(
                label=spec.label), _("pick another model."))
            return
        layer, choice = _pick(spec, layers, trained, a)
        if choice is None:
            return
        shape = _out_shape(a, layer)
        at = _pick_at(shape)
        with st.spinner(_("Running the model up to the layer…")):
            b, image = _breakdown(spec, token, layer, choice, at, _trained=trained,
                                  _analysis=a)
    except (explain.ExplainError, features.FeatureError) as exc:
        text.failure(str(exc), _("pick another layer, position or input."))
        return
    except RunError as exc:
        text.failure(exc.cause, exc.fix)
        return
    _draw(b, image, spec)
    if choice[0] == "draw":
        draw_input.layer_maps(spec, trained, choice[3])


GRAPH_SELECTED = "vz.graph.selected"  # the Graph page's selected node or block (a DOT id)


def _from_graph(analysis: Any, names: list[str]) -> str | None:
    """The layer of the node or block last selected on the Graph page, once per selection:
    a node click there opens that layer here."""
    sel = st.session_state.get(GRAPH_SELECTED) or state.view_param("node", None)
    if not sel or sel == st.session_state.get(KEY + "graph_seen"):
        return None
    st.session_state[KEY + "graph_seen"] = sel
    parsed = parse_id(sel)
    if parsed is None or analysis is None:
        return None
    kind, ident = parsed
    node = analysis.node_index().get(ident) if kind == "node" else None
    path = node.module_path if node is not None else ident
    return path if path in names else None


def _pick(spec: ModelSpec, layers: list[tuple[str, str]], trained: train_lab.Trained | None,
          analysis: Any = None) -> tuple[str, tuple | None]:
    """(layer, input choice); the choice is None while an upload or a drawing is awaited."""
    c1, c2, c3 = st.columns([3, 2, 2])
    names, types = [n for n, _t in layers], dict(layers)
    default = next((n for n, t in layers if t == "Conv2d"), names[0])
    picked = _from_graph(analysis, names)
    if picked is not None and not state.view_param("layer", None):
        st.session_state[KEY + "layer"] = picked
    state.bind_widget("layer", KEY + "layer", default, choices=names)
    with c1:
        layer = st.selectbox(_("layer"), names, format_func=lambda n: f"{n}  ({types[n]})",
                             key=KEY + "layer")
    state.set_view_param("layer", layer, default=default)
    kinds = [k for k in LABELS if k != "val" or trained is not None]
    state.bind_widget("src", KEY + "kind", kinds[0], choices=kinds)
    with c2:
        kind = st.selectbox(_("input"), kinds, format_func=lambda k: tr(LABELS[k]),
                            key=KEY + "kind")
    state.set_view_param("src", kind, default=kinds[0])
    with c3:
        got = _pick_input(spec, kind, trained)
    if kind == "draw":  # the canvas, and what the trained model says, side by side
        left, right = st.columns(2)
        with left:
            data = draw_input.canvas(spec.input_shape, KEY + "canvas")
        with right:
            if data is not None:
                draw_input.prediction(spec, trained, data)
        got = None if data is None else ("draw", 7, 0, data, 0)
    return layer, got


def _pick_input(spec: ModelSpec, kind: str, trained: train_lab.Trained | None
                ) -> tuple | None:
    """(kind, digit, seed, bytes, validation index): the one widget the input kind needs."""
    digit, seed, data, index = 7, 0, b"", 0
    if kind == "val" and trained is not None:
        n_val = len(trained.data.y_val)
        if not 0 <= st.session_state.get(KEY + "val", 0) < n_val:
            st.session_state.pop(KEY + "val", None)
        index = int(st.number_input(_("validation image (0–{last})").format(last=n_val - 1),
                                    0, n_val - 1, 0, key=KEY + "val"))
    elif kind == "digit":
        digit = int(st.slider(_("digit"), 0, 9, 7, key=KEY + "digit"))
    elif kind == "noise":
        seed = int(st.number_input(_("seed"), 0, 10_000, 0, key=KEY + "seed"))
    elif kind == "upload":
        f = st.file_uploader(_("image"), type=["png", "jpg", "jpeg"], key=KEY + "file")
        if f is None:
            st.info(_("Upload a PNG or JPEG; it is resized to the model's input {h}×{w}.")
                    .format(h=spec.input_shape[1], w=spec.input_shape[2]),
                    icon=":material/upload:")
            return None
        data = f.getvalue()
    elif kind == "draw":
        st.caption(_("Draw below: the prediction and the breakdown follow your drawing."))
    return kind, digit, seed, data, index


def _pick_at(shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """(c, h, w) — or (f,) for a flat output — from number inputs the click also sets; kept
    in the link as ``at``."""
    dims = shape or (1, 1, 1)
    names = [_("channel"), _("row"), _("column")] if len(dims) == 3 else [_("index")]
    want = state.view_param("at", None) or state.initial_param("at")
    try:
        start = explain.parse_at(want) if want else ()
    except explain.ExplainError:
        start = ()
    cols = st.columns(len(dims) + 1)
    at = []
    for i, (d, name) in enumerate(zip(dims, names)):
        key = f"{KEY}at{i}.{d}"
        if key not in st.session_state:
            st.session_state[key] = min(max(int(start[i]) if len(start) == len(dims) else
                                            d // 2 if i else 0, 0), d - 1)
        with cols[i]:
            at.append(int(st.number_input(f"{name} (0–{d - 1})", 0, d - 1, key=key)))
    with cols[-1]:
        st.caption(_("Click a pixel of the output map to pick it."))
    state.set_view_param("at", ",".join(map(str, at)))
    return tuple(at)


def _clicked(dims_key: str) -> None:
    """A click on the output map: its (row, column) into the number inputs."""
    event = st.session_state.get(KEY + "plane")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points:
        r, c = int(points[0].get("y", 0)), int(points[0].get("x", 0))
        for i, v in ((1, r), (2, c)):
            key = f"{KEY}at{i}.{dims_key.split(',')[i]}"
            st.session_state[key] = v


def _draw(b: explain.Breakdown, image: np.ndarray, spec: ModelSpec) -> None:
    left, right = st.columns(2)
    dims = ",".join(str(d) for d in b.output_shape[1:])
    with left:
        title = _("{layer} output, channel {c}").format(layer=b.layer, c=b.at[0]) \
            if len(b.at) == 3 else _("{layer} output").format(layer=b.layer)
        st.plotly_chart(plots_explain.output_plane(b.plane, b.at, title), width="stretch",
                        theme=None, key=KEY + "plane", on_select=lambda: _clicked(dims),
                        selection_mode="points")
    with right:
        h, w = b.input_shape[-2:] if len(b.input_shape) == 4 else (1, 1)
        H, W = spec.input_shape[1:]
        scale = (image.shape[0] / H, image.shape[1] / W)
        st.plotly_chart(plots_explain.input_with_box(image, b.rf_box, _("input, receptive "
                                                                        "field in red"),
                                                     scale), width="stretch", theme=None,
                        key=KEY + "input")
        if b.rf_box is not None:
            t, l_, bo, r = b.rf_box
            st.caption(_("Receptive field {size}: input rows {t}…{b}, columns {l}…{r} (clipped "
                         "to the image).").format(size="×".join(map(str, b.rf_size)), t=t,
                                                  b=bo, l=l_, r=r))
    explain_parts.summary(b)
    explain_parts.details(b, KEY)
