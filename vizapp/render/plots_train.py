"""Plotly figures of training runs, from the records of :mod:`vizapp.labs.train` (no
Streamlit here): loss/accuracy/lr curves (one or two runs overlaid), BatchNorm running
statistics and γ/β over steps, input percentiles of a watched layer (Ioffe & Szegedy Fig. 1),
the train-vs-eval gap, a confusion matrix, first-layer filters and misclassified images."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from vizapp.i18n import _
from vizapp.render import plain
from vizapp.render.fonts import use_cjk_in_plotly_templates

use_cjk_in_plotly_templates()

PALETTE = ("#2563eb", "#dc2626", "#10b981", "#f59e0b", "#7c3aed", "#0891b2")
_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=50, b=10),
               legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0))


def curves(runs: dict[str, dict], height: int = 520) -> go.Figure:
    """Loss, accuracy and lr against epochs (step records give the fine training line).
    ``runs``: {label: {"step": (StepRecord …), "epoch": (EpochRecord …)}}."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=(_("loss"), _("accuracy"), _("learning rate")),
                        horizontal_spacing=0.07)
    for i, (label, v) in enumerate(runs.items()):
        label = plain(label)
        color = PALETTE[i % len(PALETTE)]
        steps, epochs = v.get("step", ()), v.get("epoch", ())
        sx = [s.epochs_done for s in steps]
        ex = [e.epoch for e in epochs]
        kw = dict(legendgroup=label)
        fig.add_scatter(x=sx, y=[s.loss for s in steps], mode="lines", name=_("{label} train").format(label=label),
                        line=dict(color=color, width=1.5), row=1, col=1, **kw)
        fig.add_scatter(x=ex, y=[e.val_loss for e in epochs], mode="lines+markers",
                        name=_("{label} val").format(label=label), line=dict(color=color, width=2, dash="dash"),
                        row=1, col=1, **kw)
        fig.add_scatter(x=sx, y=[s.acc for s in steps], mode="lines", showlegend=False,
                        line=dict(color=color, width=1.5), row=1, col=2, **kw)
        fig.add_scatter(x=ex, y=[e.val_acc for e in epochs], mode="lines+markers",
                        showlegend=False, line=dict(color=color, width=2, dash="dash"),
                        row=1, col=2, **kw)
        fig.add_scatter(x=sx, y=[s.lr for s in steps], mode="lines", showlegend=False,
                        line=dict(color=color, width=2, shape="hv"), row=1, col=3, **kw)
    fig.update_xaxes(title_text=_("epoch"))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_yaxes(rangemode="tozero", row=1, col=3)  # a decay reads as the share of lr₀ left
    fig.update_layout(height=height, **_LAYOUT)
    return fig


def bn_stats(bn: Sequence, layer: str, max_channels: int = 16) -> go.Figure:
    """Running mean, running variance, γ and β of each channel of ``layer`` over steps."""
    recs = [b for b in bn if b.layer == layer]
    fig = make_subplots(rows=2, cols=2, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=(_("running mean"), _("running variance"), "γ (weight)",
                                        "β (bias)"))
    if recs:
        x = [r.step for r in recs]
        n = min(max_channels, len(recs[0].running_mean))
        for c in range(n):
            color = f"hsl({int(360 * c / max(n, 1))},65%,45%)"
            for (row, col), field in zip(((1, 1), (1, 2), (2, 1), (2, 2)),
                                         ("running_mean", "running_var", "weight", "bias")):
                y = [getattr(r, field)[c] if c < len(getattr(r, field)) else None for r in recs]
                fig.add_scatter(x=x, y=y, mode="lines", line=dict(color=color, width=1.2),
                                name=_("channel {c}").format(c=c), legendgroup=str(c),
                                showlegend=(row, col) == (1, 1), row=row, col=col,
                                hovertemplate=_("ch {c} step").format(c=c)
                                + " %{x}: %{y:.4g}<extra></extra>")
    fig.update_xaxes(title_text=_("step"), row=2)
    fig.update_layout(height=520, **{**_LAYOUT, "legend": dict(orientation="v", x=1.02, y=1)})
    return fig


def percentiles(runs: dict[str, Sequence]) -> go.Figure:
    """15th/50th/85th percentile of the watched input over steps, one panel per run
    (Ioffe & Szegedy 2015, Fig. 1b without BN, 1c with)."""
    labels = list(runs)
    fig = make_subplots(rows=1, cols=max(1, len(labels)), shared_yaxes=True,
                        subplot_titles=[_watch_title(k, runs[k]) for k in labels] or [""])
    for i, label in enumerate(labels):
        recs = runs[label]
        x = [r.step for r in recs]
        color = PALETTE[i % len(PALETTE)]
        for q, width, dash in (("p15", 1.2, "dot"), ("p50", 2.2, "solid"), ("p85", 1.2, "dot")):
            fig.add_scatter(x=x, y=[getattr(r, q) for r in recs], mode="lines",
                            name=_("{label} {q}th").format(label=plain(label), q=q[1:]), line=dict(color=color, width=width,
                                                                 dash=dash), row=1, col=i + 1)
    fig.update_xaxes(title_text=_("step"))
    fig.update_layout(height=380, **_LAYOUT)
    return fig


def _watch_title(label: str, recs: Sequence) -> str:
    if not recs:
        return _("{label}: no records").format(label=plain(label))
    r = recs[0]
    return _("{label}: input of {layer}, unit {unit}").format(label=plain(label), layer=plain(r.layer),
                                                             unit=r.unit)


def gap(runs: dict[str, Sequence]) -> go.Figure:
    """Mean |train-mode − eval-mode| logit on validation images, per epoch."""
    fig = go.Figure()
    for i, (label, epochs) in enumerate(runs.items()):
        fig.add_scatter(x=[e.epoch for e in epochs], y=[e.gap for e in epochs],
                        mode="lines+markers", name=plain(label),
                        line=dict(color=PALETTE[i % len(PALETTE)], width=2))
    fig.update_layout(height=320, xaxis_title=_("epoch"), yaxis_title=_("mean |Δ logit|"), **_LAYOUT)
    return fig


def confusion(cm: Sequence[Sequence[int]], classes: Sequence[str]) -> go.Figure:
    z = np.asarray(cm, dtype=float)
    names = [str(c) for c in classes][: z.shape[0]]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorscale="Blues", text=z.astype(int),
                               texttemplate="%{text}", showscale=False,
                               hovertemplate=_("true %{y}, predicted %{x}: %{z:.0f}")
                               + "<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text=_("true class"), type="category")
    fig.update_xaxes(title_text=_("predicted class"), type="category")
    fig.update_layout(height=max(300, 28 * len(names) + 120), template="plotly_white",
                      margin=dict(l=10, r=10, t=30, b=10))
    return fig


def image_grid(images: np.ndarray, titles: Sequence[str], cols: int = 8,
               height_per_row: int = 110) -> go.Figure:
    """N×C×H×W (C = 1 or 3) as small images, each scaled to its own range."""
    n = len(images)
    rows = max(1, math.ceil(n / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles) + [""] * (
        rows * cols - n), horizontal_spacing=0.01, vertical_spacing=0.12 / rows)
    for i, img in enumerate(images):
        a = np.asarray(img, dtype=float)
        a = (a - a.min()) / (np.ptp(a) or 1.0)
        r, c = divmod(i, cols)
        if a.shape[0] == 3:
            fig.add_image(z=(a.transpose(1, 2, 0) * 255).astype(np.uint8), row=r + 1, col=c + 1,
                          hoverinfo="skip")
        else:
            fig.add_heatmap(z=a[0], colorscale="gray", showscale=False, row=r + 1, col=c + 1,
                            hoverinfo="skip")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=None)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=rows * height_per_row + 30, template="plotly_white",
                      margin=dict(l=0, r=0, t=20, b=0))
    return fig
