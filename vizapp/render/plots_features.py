"""Plotly figures of feature maps, from :class:`vizapp.labs.features.FeatureMaps`."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from vizapp.i18n import _
from vizapp.render.fonts import use_cjk_in_plotly_templates

use_cjk_in_plotly_templates()


def input_image(image: np.ndarray, title: str = "input") -> go.Figure:
    """The model input as a picture (grey or RGB in [0, 1])."""
    if image.ndim == 3:
        fig = go.Figure(go.Image(z=(np.clip(image, 0, 1) * 255).astype(np.uint8)))
    else:
        fig = go.Figure(go.Heatmap(z=image, colorscale="gray", showscale=False,
                                   hovertemplate="(%{y}, %{x}) %{z:.3f}<extra></extra>"))
        fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(height=260, title=title, margin=dict(l=0, r=0, t=30, b=0),
                      template="plotly_white")
    return fig


def feature_grid(fm, cols: int = 4, colorscale: str = "Viridis",
                 shared_scale: bool = False) -> go.Figure:
    """The first channels of a layer's output as a grid of heatmaps (one per channel)."""
    k = len(fm.channels)
    cols = max(1, min(cols, k))
    rows = math.ceil(k / cols)
    flat = fm.maps.shape[1] == 1  # a 1×F strip (Linear output)
    titles = [f"ch {c}  [{fm.ch_min[i]:.2g}, {fm.ch_max[i]:.2g}]"
              for i, c in enumerate(fm.channels)]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles,
                        horizontal_spacing=0.02, vertical_spacing=0.08 if rows > 1 else 0.1)
    lo, hi = float(fm.maps.min()), float(fm.maps.max())
    for i in range(k):
        r, c = divmod(i, cols)
        z = fm.maps[i]
        fig.add_heatmap(z=z, colorscale=colorscale, showscale=shared_scale and i == 0,
                        zmin=lo if shared_scale else None, zmax=hi if shared_scale else None,
                        hovertemplate=_("ch {c}").format(c=fm.channels[i])
                        + " (%{y}, %{x}): %{z:.4f}<extra></extra>",
                        row=r + 1, col=c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    if not flat:  # square pixels
        for i in range(k):
            axis = "" if i == 0 else str(i + 1)
            fig.layout[f"yaxis{axis}"].update(scaleanchor=f"x{axis}")
    h, w = fm.maps.shape[1], fm.maps.shape[2]
    # the grid is about 900 px wide in the app; square pixels set each tile's height
    cell = 90 if flat else min(320, max(60, int(860 / cols * h / max(w, 1))))
    fig.update_layout(height=40 + rows * (cell + 30), template="plotly_white",
                      margin=dict(l=5, r=5, t=30, b=5))
    fig.update_annotations(font_size=11)
    return fig


def channel_ranges(fm) -> go.Figure:
    """Min / mean / max of each shown channel (a dead ReLU channel is a flat zero line)."""
    ch = list(fm.channels)
    fig = go.Figure()
    fig.add_scatter(x=ch, y=fm.ch_max, mode="lines", line=dict(width=0), showlegend=False,
                    hoverinfo="skip")
    fig.add_scatter(x=ch, y=fm.ch_min, mode="lines", fill="tonexty", line=dict(width=0),
                    fillcolor="rgba(37,99,235,0.2)", name=_("min … max"))
    fig.add_scatter(x=ch, y=fm.ch_mean, mode="lines+markers", name=_("mean"),
                    line=dict(color="#2563eb"))
    fig.update_layout(height=240, xaxis_title=_("channel"), template="plotly_white",
                      margin=dict(l=10, r=10, t=10, b=10),
                      legend=dict(orientation="h", y=1.1, x=0))
    return fig
