"""Plotly figures of timed runs, from :mod:`vizapp.runtime` records (no Streamlit)."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from vizapp.i18n import _
from vizapp.render import plain
from vizapp.render.fonts import use_cjk_in_plotly_templates

use_cjk_in_plotly_templates()

MIB = 2 ** 20


def latencies(r) -> go.Figure:
    """Latency of every timed iteration, with p50 and p95."""
    it = list(range(1, len(r.latencies_ms) + 1))
    fig = go.Figure()
    fig.add_scatter(x=it, y=r.latencies_ms, mode="lines+markers", name=_("iteration"),
                    line=dict(color="#2563eb"), marker=dict(size=5))
    fig.add_hline(y=r.latency_ms_p50, line=dict(color="#10b981", dash="dash"),
                  annotation_text=f"p50 {r.latency_ms_p50:.3g} ms", annotation_position="top left")
    fig.add_hline(y=r.latency_ms_p95, line=dict(color="#dc2626", dash="dot"),
                  annotation_text=f"p95 {r.latency_ms_p95:.3g} ms",
                  annotation_position="bottom right")
    fig.update_layout(height=300, xaxis_title=_("timed iteration"), yaxis_title="ms",
                      template="plotly_white", showlegend=False,
                      margin=dict(l=10, r=10, t=20, b=10))
    return fig


def sweep(sw) -> go.Figure:
    """Throughput, p50 latency and peak memory against the batch size (log x)."""
    ok = [p for p in sw.points if p.result is not None]
    b = [p.batch for p in ok]
    fig = make_subplots(rows=1, cols=3, subplot_titles=(_("throughput (samples/s)"),
                                                        _("latency p50 (ms)"), _("peak memory (MiB)")))
    fig.add_scatter(x=b, y=[p.result.throughput for p in ok], mode="lines+markers",
                    line=dict(color="#2563eb"), row=1, col=1)
    fig.add_scatter(x=b, y=[p.result.latency_ms_p50 for p in ok], mode="lines+markers",
                    line=dict(color="#10b981"), row=1, col=2)
    fig.add_scatter(x=b, y=[p.result.peak_memory_bytes / MIB for p in ok],
                    mode="lines+markers", line=dict(color="#f59e0b"), name=_("measured"),
                    row=1, col=3)
    est = [(p.batch, p.result.estimate.total_bytes / MIB) for p in ok if p.result.estimate]
    if est:
        fig.add_scatter(x=[e[0] for e in est], y=[e[1] for e in est], mode="lines",
                        line=dict(color="#94a3b8", dash="dot"), name=_("estimate"), row=1, col=3)
    failed = [p for p in sw.points if p.result is None]
    for p in failed:
        for col in (1, 2, 3):
            fig.add_vline(x=p.batch, line=dict(color="#dc2626", dash="dot"), row=1, col=col)
    fig.update_xaxes(type="log", title_text=_("batch"), dtick=0.30102999566)  # powers of 2
    fig.update_layout(height=320, template="plotly_white", showlegend=False,
                      margin=dict(l=10, r=10, t=40, b=10))
    fig.update_annotations(font_size=12)
    return fig


def stage_memory(stages: Sequence) -> go.Figure:
    """Per stage: measured output bytes, the static estimate, and (CUDA) the measured peak."""
    names = [plain(s.name) for s in stages]  # module names are user text
    fig = go.Figure()
    fig.add_bar(x=names, y=[s.estimate_bytes / MIB for s in stages], name=_("estimate (output)"),
                marker_color="#94a3b8")
    fig.add_bar(x=names, y=[s.output_bytes / MIB for s in stages], name=_("measured output"),
                marker_color="#2563eb")
    if any(s.peak_bytes is not None for s in stages):
        fig.add_bar(x=names, y=[(s.peak_bytes or 0) / MIB for s in stages],
                    name=_("measured peak while running (CUDA)"), marker_color="#f59e0b")
    fig.update_layout(barmode="group", height=320, yaxis_title="MiB", template="plotly_white",
                      margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return fig
