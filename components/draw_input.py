"""A digit drawn in the browser as the model's input: a drawing canvas
(``streamlit-drawable-canvas``, white strokes on black like MNIST), the drawing as PNG bytes,
and — with trained weights — the class probabilities of the drawing, updated as the student
draws (the canvas sends the drawing on every mouse-up)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from vizapp.i18n import _
from vizapp.labs import explain, features
from vizapp.labs import train as train_lab
from vizapp.render import plots_features
from vizapp.zoo import ModelSpec

from . import state, text, weights

SIDE = 280  # canvas pixels: 10 per pixel of a 28×28 input


def canvas(input_shape: tuple[int, ...], key: str) -> bytes | None:
    """The drawing as PNG bytes; None (and a line saying why) while nothing is drawn or when
    the canvas cannot load."""
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception as exc:  # noqa: BLE001 - a missing or broken component: say so, go on
        text.failure(_("the drawing canvas is unavailable ({error}).").format(
            error=type(exc).__name__), _("pip install streamlit-drawable-canvas, or pick "
                                         "another input."))
        return None
    h, w = input_shape[1:]
    width = SIDE if w <= h else int(SIDE * w / h)
    height = SIDE if h <= w else int(SIDE * h / w)
    st.caption(_("Draw with the mouse (white on black); the model sees it as {h}×{w}.").format(
        h=h, w=w))
    got = st_canvas(stroke_width=max(8, SIDE // 14), stroke_color="#ffffff",
                    background_color="#000000", height=height, width=width,
                    drawing_mode="freedraw", return_image_data=True, key=key)
    data = got.image_bytes
    if not data or not np.asarray(got.image_data)[..., :3].any():
        st.info(_("Draw a digit on the canvas."), icon=":material/draw:")
        return None
    return data


def from_bytes(data: bytes) -> np.ndarray:
    """The drawing's PNG → an RGB array for :func:`vizapp.labs.features.image_to_input`."""
    return features.decode_image(data)


@st.cache_data(max_entries=16, show_spinner=False)
def _probabilities(spec: ModelSpec, token: str, data: bytes,
                   _trained: train_lab.Trained) -> tuple[float, ...]:
    x = features.image_to_input(from_bytes(data), spec.input_shape)
    return explain.probabilities(weights.trained_model(token, _trained), x)


def prediction(spec: ModelSpec, trained: train_lab.Trained | None, data: bytes) -> None:
    """The drawing's class probabilities (trained weights), or why there are none."""
    st.subheader(_("Draw and predict"))
    if trained is None:
        st.info(_("Train this configuration in the Train lab to see what it predicts for your "
                  "drawing (random weights predict nothing useful)."), icon=":material/school:")
        return
    probs = _probabilities(spec, trained.key, data, _trained=trained)
    names = list(trained.data.classes)
    rows: list[dict[str, Any]] = [{_("class"): names[i] if i < len(names) else str(i),
                                   _("probability"): p} for i, p in enumerate(probs)]
    best = int(np.argmax(probs))
    st.text(_("prediction: {c} ({p}%)").format(c=rows[best][_("class")],
                                               p=f"{100 * probs[best]:.0f}"))
    st.bar_chart(rows, x=_("class"), y=_("probability"), height=220)


MAX_MAP_LAYERS = 6  # convolutions and pools shown for a drawing


@st.cache_data(max_entries=8, show_spinner=False)
def _maps(spec: ModelSpec, token: str, data: bytes, _trained: train_lab.Trained | None = None
          ) -> list[features.FeatureMaps]:
    model = state.real_model(spec, batch=1) if _trained is None else \
        weights.trained_model(token, _trained)
    x = features.image_to_input(from_bytes(data), spec.input_shape)
    names = [n for n, m in model.named_modules()
             if n and explain.kind_of(m) in ("conv", "pool")][:MAX_MAP_LAYERS]
    return [features.feature_maps(model, n, x, max_channels=6) for n in names]


def layer_maps(spec: ModelSpec, trained: train_lab.Trained | None, data: bytes) -> None:
    """The first convolution and pooling layers' feature maps of the drawing."""
    token = trained.key if trained is not None else weights.RANDOM
    with st.expander(_("Each layer's feature maps for this drawing")):
        for fm in _maps(spec, token, data, _trained=trained):
            st.text(f"{fm.layer} ({fm.type}) → {tuple(fm.output_shape[1:])}")
            st.plotly_chart(plots_features.feature_grid(fm, cols=6), width="stretch",
                            theme=None, key=f"vz.explain.maps.{fm.layer}")
