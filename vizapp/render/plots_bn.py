"""Plotly figures of the BatchNorm lab, from :mod:`vizapp.labs.bn` records (no Streamlit)."""

from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from vizapp.i18n import _, tr
from vizapp.render import plain
from vizapp.render.fonts import use_cjk_in_plotly_templates

use_cjk_in_plotly_templates()

BATCH = "#2563eb"
RUNNING = "#f59e0b"
UNBIASED = "#7c3aed"
OUTPUT = "#10b981"
MOMENTUM_COLORS = {0.1: "#2563eb", 1.0: "#dc2626", None: "#10b981"}
_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10),
               legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))


def _color(m: float | None) -> str:
    return MOMENTUM_COLORS.get(m, "#64748b")


def channel_stats(s, max_channels: int = 32) -> go.Figure:
    """Per channel: batch mean vs running_mean (before/after one pass), and the biased vs
    unbiased batch variance vs running_var."""
    k = min(max_channels, s.num_features)
    ch = list(range(k))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=(_("mean over (N, H, W)"), _("variance")))
    fig.add_bar(x=ch, y=s.batch_mean[:k], name=_("this batch (mean; biased var ÷n, used to "
                                                         "normalise)"), marker_color=BATCH, legendgroup="b", row=1, col=1)
    fig.add_bar(x=ch, y=s.running_mean_after[:k], name=_("running stat after 1 pass"),
                marker_color=RUNNING, legendgroup="r", row=1, col=1)
    fig.add_bar(x=ch, y=s.batch_var_biased[:k], name=_("batch var biased"), marker_color=BATCH,
                legendgroup="b", showlegend=False, row=2, col=1)
    fig.add_bar(x=ch, y=s.batch_var_unbiased[:k], name=_("unbiased var ÷(n−1), fed to running_var"),
                marker_color=UNBIASED, row=2, col=1)
    fig.add_bar(x=ch, y=s.running_var_after[:k], name=_("running_var after 1 pass"),
                marker_color=RUNNING, legendgroup="r", showlegend=False, row=2, col=1)
    fig.update_layout(barmode="group", height=480, **{**_LAYOUT, "margin": dict(l=10, r=10,
                                                                                 t=80, b=10)})
    fig.update_layout(legend=dict(y=1.08))
    fig.update_xaxes(title_text=_("channel"), row=2, col=1, dtick=1 if k <= 32 else None)
    return fig


def output_stats(s, max_channels: int = 32) -> go.Figure:
    """Per-channel mean and std of the train-mode output next to β and γ (they match)."""
    k = min(max_channels, s.num_features)
    ch = list(range(k))
    fig = go.Figure()
    fig.add_scatter(x=ch, y=s.out_mean[:k], mode="markers", name=_("output mean"),
                    marker=dict(color=OUTPUT, size=9))
    fig.add_scatter(x=ch, y=s.bias[:k], mode="lines", name="β", line=dict(color=OUTPUT,
                                                                           dash="dot"))
    fig.add_scatter(x=ch, y=s.out_std[:k], mode="markers", name=_("output std"),
                    marker=dict(color=BATCH, size=9, symbol="diamond"))
    fig.add_scatter(x=ch, y=[abs(v) for v in s.weight[:k]], mode="lines", name="|γ|",
                    line=dict(color=BATCH, dash="dot"))
    fig.update_layout(height=300, xaxis_title=_("channel"), **_LAYOUT)
    return fig


def distribution(s, channel: int = 0) -> go.Figure:
    """Histogram of one channel's values before and after the layer (train mode)."""
    channel = min(channel, len(s.sample_in) - 1)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        _("input, channel {c}: mean {m}, std {s}").format(
            c=channel, m=f"{s.batch_mean[channel]:.3g}",
            s=f"{math.sqrt(max(s.batch_var_biased[channel], 0)):.3g}"),
        _("output: mean {m}, std {s}").format(m=f"{s.out_mean[channel]:.2g}",
                                              s=f"{s.out_std[channel]:.3g}")))
    fig.add_histogram(x=s.sample_in[channel], nbinsx=40, marker_color=BATCH, name=_("input"),
                      row=1, col=1)
    fig.add_histogram(x=s.sample_out[channel], nbinsx=40, marker_color=OUTPUT, name=_("output"),
                      row=1, col=2)
    fig.update_layout(height=280, showlegend=False, bargap=0.02, **_LAYOUT)
    fig.update_annotations(font_size=12)
    return fig


def evolution(evos: Sequence, channel: int = 0, stat: str = "mean") -> go.Figure:
    """running_mean (or running_var) of one channel after each pass, one line per momentum,
    with the batch values as dots and their running average dashed."""
    fig = go.Figure()
    if not evos:
        return fig
    e0 = evos[0]
    channel = min(channel, len(e0.channels) - 1)
    steps = list(range(e0.steps + 1))
    batch = e0.batch_mean if stat == "mean" else e0.batch_var_unbiased
    cum = e0.cumulative_mean if stat == "mean" else e0.cumulative_var
    fig.add_scatter(x=steps[1:], y=[r[channel] for r in batch], mode="markers",
                    name=_("this batch's ") + ("mean" if stat == "mean" else "unbiased var"),
                    marker=dict(color="#94a3b8", size=8))
    fig.add_scatter(x=steps[1:], y=[r[channel] for r in cum], mode="lines",
                    name=_("average of the batches so far"), line=dict(color="#0f172a", dash="dash"))
    for e in evos:
        rows = e.running_mean if stat == "mean" else e.running_var
        fig.add_scatter(x=steps, y=[r[channel] for r in rows], mode="lines+markers",
                        name=_("running_{stat}, momentum {m}").format(stat=stat, m=tr(e.label)),
                        line=dict(color=_color(e.momentum), width=2), marker=dict(size=5))
    fig.update_layout(height=440, xaxis_title=_("training-mode forward passes"),
                      yaxis_title=f"running_{stat}[{channel}]", **{
                          **_LAYOUT, "margin": dict(l=10, r=10, t=90, b=10)})
    return fig


def depth_profile(report) -> go.Figure:
    """Through the network: how far each BN input is from mean 0 / std 1 (averaged over
    channels) — the scale BN takes away — and the manual-formula error."""
    names = [plain(p[0]) for p in report.profile]  # module names are user text
    mean_abs = [p[1] for p in report.profile]
    std = [p[2] for p in report.profile]
    fig = go.Figure()
    fig.add_scatter(x=names, y=mean_abs, mode="lines+markers", name=_("mean |batch mean|"),
                    line=dict(color=BATCH))
    fig.add_scatter(x=names, y=std, mode="lines+markers", name=_("mean batch std"),
                    line=dict(color=UNBIASED))
    fig.add_hline(y=1.0, line=dict(color="#94a3b8", dash="dot"))
    fig.update_layout(height=320, xaxis_title=_("BN layer (execution order)"),
                      yaxis_title=_("input statistic (average over channels)"), **_LAYOUT)
    fig.update_xaxes(tickangle=-45 if len(names) > 8 else 0)
    return fig


def demo_tensor(demo) -> go.Figure:
    """Seed 003's 4×3×2×2 tensor: one 2×2 tile per (sample, channel); each column is one
    channel — BN averages the 16 numbers of a column."""
    n, c = demo.input_shape[0], demo.input_shape[1]
    fig = make_subplots(rows=n, cols=c, horizontal_spacing=0.04, vertical_spacing=0.05,
                        column_titles=[f"channel {j}: mean {demo.batch_mean[j]:.3f}"
                                       for j in range(c)],
                        row_titles=[f"n={i}" for i in range(n)])
    vmax = max(abs(v) for s in demo.input for ch in s for row in ch for v in row)
    for i in range(n):
        for j in range(c):
            z = [list(r) for r in demo.input[i][j]]
            fig.add_heatmap(z=z, zmin=-vmax, zmax=vmax, colorscale="RdBu", reversescale=True,
                            showscale=False, text=[[f"{v:.2f}" for v in r] for r in z],
                            texttemplate="%{text}", row=i + 1, col=j + 1,
                            hovertemplate="%{z:.4f}<extra></extra>")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_layout(height=420, template="plotly_white", margin=dict(l=10, r=30, t=40, b=10))
    fig.update_annotations(font_size=12)
    return fig
