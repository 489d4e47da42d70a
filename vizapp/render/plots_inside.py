"""Plotly figures of what happens inside a network while it learns (the Train lab's
:class:`~vizapp.labs.train.records.LayerStats`, no Streamlit here): gradient and weight norms
per layer over training (log scale, first layer to last), the activations' mean ± std and
saturation after each BatchNorm and activation, and one layer's distribution over training as
a heatmap (TensorBoard's "distributions")."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizapp.i18n import _
from vizapp.render import plain
from vizapp.render.fonts import use_cjk_in_plotly_templates

use_cjk_in_plotly_templates()

_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=50, b=10),
               legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0))


def _layers(recs: Sequence, kind: str) -> list[str]:
    return list(dict.fromkeys(r.layer for r in recs if r.kind == kind))


def _colors(n: int) -> list[str]:
    """First layer dark blue to last layer orange: depth reads as colour."""
    out = []
    for i in range(n):
        t = i / max(1, n - 1)
        r, g, b = int(37 + t * (245 - 37)), int(99 + t * (158 - 99)), int(235 - t * (235 - 11))
        out.append(f"rgb({r},{g},{b})")
    return out


def norms(recs: Sequence, height: int = 420) -> go.Figure:
    """‖∇W‖ and ‖W‖ of each Conv/Linear layer against epochs (log y)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(_("gradient norm ‖∇W‖ (log scale)"),
                                        _("weight norm ‖W‖")))
    layers = _layers(recs, "weight")
    for layer, color in zip(layers, _colors(len(layers))):
        for col, kind in ((1, "grad"), (2, "weight")):
            pts = [r for r in recs if r.layer == layer and r.kind == kind]
            fig.add_scatter(x=[r.epochs_done for r in pts], y=[r.norm for r in pts],
                            mode="lines", name=plain(layer), legendgroup=layer,
                            showlegend=col == 1, line=dict(color=color, width=2),
                            row=1, col=col)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_xaxes(title_text=_("epoch"))
    fig.update_layout(height=height, **_LAYOUT)
    return fig


def activations(recs: Sequence, height: int = 420) -> go.Figure:
    """Mean ± std of each BatchNorm/activation output, and the share of saturated values of
    the bounded activations (sigmoid, tanh), against epochs."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(_("output mean (band: ± one std)"),
                                        _("saturated: within 0.05 of sigmoid's 0/1 or tanh's ±1")))
    layers = _layers(recs, "act")
    for layer, color in zip(layers, _colors(len(layers))):
        pts = [r for r in recs if r.layer == layer and r.kind == "act"]
        x = [r.epochs_done for r in pts]
        mean = np.array([r.mean for r in pts])
        std = np.array([r.std for r in pts])
        fig.add_scatter(x=x + x[::-1], y=list(mean + std) + list((mean - std)[::-1]),
                        fill="toself", line=dict(width=0), fillcolor=color, opacity=0.15,
                        hoverinfo="skip", showlegend=False, legendgroup=layer, row=1, col=1)
        fig.add_scatter(x=x, y=mean, mode="lines", name=plain(layer), legendgroup=layer,
                        line=dict(color=color, width=2), row=1, col=1)
        if any(r.saturated is not None for r in pts):
            fig.add_scatter(x=x, y=[r.saturated for r in pts], mode="lines", showlegend=False,
                            legendgroup=layer, line=dict(color=color, width=2), row=1, col=2)
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=2)
    fig.update_xaxes(title_text=_("epoch"))
    fig.update_layout(height=height, **_LAYOUT)
    return fig


def regrid(recs: Sequence, bins: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """The records' histograms on one common value grid (each step's own bins spread over the
    grid cells their range covers), normalised per step: (grid centres, density[bin, step])."""
    lo = min(r.lo for r in recs)
    hi = max(r.hi for r in recs)
    if hi <= lo:
        hi = lo + 1e-12
    edges = np.linspace(lo, hi, bins + 1)
    z = np.zeros((bins, len(recs)))
    for j, r in enumerate(recs):
        own = np.linspace(r.lo, r.hi, len(r.counts) + 1)
        for k, c in enumerate(r.counts):
            if not c:
                continue
            a, b = own[k], own[k + 1]
            overlap = np.clip(np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0, None)
            width = b - a
            share = overlap / width if width > 0 else (edges[:-1] <= a) & (a < edges[1:])
            z[:, j] += c * share
        total = z[:, j].sum()
        if total > 0:
            z[:, j] /= total
    return (edges[:-1] + edges[1:]) / 2, z


def distribution(recs: Sequence, layer: str, kind: str, height: int = 380,
                 kind_name: str | None = None) -> go.Figure:
    """One layer's values (``kind``: weight, grad or act) over training: x epochs, y value,
    colour the share of values in that bin at that step."""
    pts = [r for r in recs if r.layer == layer and r.kind == kind]
    fig = go.Figure()
    if pts:
        centres, z = regrid(pts)
        fig.add_heatmap(x=[r.epochs_done for r in pts], y=centres, z=z, colorscale="Blues",
                        colorbar=dict(title=_("share"), tickformat=".0%"),
                        hovertemplate="epoch %{x:.2f}<br>value %{y:.3g}<br>%{z:.1%}"
                                      "<extra></extra>")
    fig.update_layout(height=height, xaxis_title=_("epoch"), yaxis_title=_("value"),
                      title=plain(f"{layer} · {kind_name or kind}"), **_LAYOUT)
    return fig
