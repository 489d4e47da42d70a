"""Plotly figures built from analysis records (no Streamlit here).

- :func:`shape_profile` — channels and spatial size (H×W) along the depth of the network.
- :func:`compare_costs` — params and MACs per stage of two configurations side by side.
"""

from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizapp.fmt import human, shape_text
from vizapp.i18n import _
from vizapp.render import plain
from vizapp.render.fonts import use_cjk_in_plotly_templates

use_cjk_in_plotly_templates()

A_COLOR = "#2563eb"
B_COLOR = "#f59e0b"
SPATIAL_COLOR = "#10b981"
FLAT_COLOR = "#94a3b8"


def _channels_spatial(shape: Sequence[int] | None) -> tuple[int | None, int | None, str]:
    """(channels or features, H·W, 'H×W') of an (N, C, H, W) or (N, F) shape."""
    if not shape or len(shape) < 2:
        return None, None, ""
    if len(shape) >= 4:
        h, w = shape[-2], shape[-1]
        return shape[1], h * w, f"{h}×{w}"
    if len(shape) == 3:
        return shape[1], shape[2], f"{shape[2]}"
    return shape[1], 1, _("1×1 (flat)")


def shape_profile(rows: Sequence, input_shape: Sequence[int] | None = None,
                  title: str = "") -> go.Figure:
    """Two stacked panels over the rows (in execution order): channels (bars) and spatial size
    H×W (line, log scale). Flattened outputs (N, F) show their features in grey."""
    names, chans, spatial, labels, colors, hover = [], [], [], [], [], []
    if input_shape is not None:
        c, hw, lab = _channels_spatial(input_shape)
        names.append("input")
        chans.append(c)
        spatial.append(hw)
        labels.append(lab)
        colors.append(FLAT_COLOR)
        hover.append(f"input<br>{shape_text(input_shape)}")
    for r in rows:
        c, hw, lab = _channels_spatial(r.output_shape)
        names.append(plain(r.name))  # module names are user text
        chans.append(c)
        spatial.append(hw if r.output_shape is not None and len(r.output_shape) >= 3 else None)
        labels.append(lab)
        flat = r.output_shape is not None and len(r.output_shape) == 2
        colors.append(FLAT_COLOR if flat else A_COLOR)
        hover.append(f"{plain(r.name)} ({plain(r.type)})<br>{shape_text(r.output_shape)}")
    # unique x labels (plotly merges equal categories)
    xs, seen = [], {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        xs.append(n if seen[n] == 1 else f"{n} ({seen[n]})")

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(_("Channels (features after flattening)"),
                                        _("Spatial size H×W (log scale)")))
    fig.add_trace(go.Bar(x=xs, y=chans, marker_color=colors, name=_("channels"),
                         hovertext=hover, hovertemplate=_("%{hovertext}<br>%{y:,} channels")
                         + "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=spatial, mode="lines+markers", name="H×W",
                             line=dict(color=SPATIAL_COLOR, width=2, shape="hv"),
                             marker=dict(size=7), text=labels, connectgaps=False,
                             hovertext=hover,
                             hovertemplate=_("%{hovertext}<br>%{text} = %{y:,} positions")
                             + "<extra></extra>"), row=2, col=1)
    vals = [v for v in spatial if v]
    if vals:
        ticks = sorted({v for v in vals})
        if len(ticks) > 8:
            ticks = [v for i, v in enumerate(ticks) if i % math.ceil(len(ticks) / 8) == 0]
        fig.update_yaxes(type="log", row=2, col=1, tickvals=ticks,
                         ticktext=[_side(v, spatial, labels) for v in ticks])
    fig.update_layout(showlegend=False, height=520, margin=dict(l=10, r=10, t=40 if not title
                                                                else 70, b=10),
                      title=title or None, bargap=0.25)
    fig.update_xaxes(tickangle=-45, row=2, col=1)
    return fig


def _side(v: int, spatial: list, labels: list) -> str:
    for s, lab in zip(spatial, labels):
        if s == v:
            return lab
    return str(v)


def compare_costs(stages: Sequence[str], a: Sequence[tuple[int, int] | None],
                  b: Sequence[tuple[int, int] | None], label_a: str, label_b: str) -> go.Figure:
    """Params and MACs per stage (rows aligned; None where a side has no such stage)."""
    stages, label_a, label_b = [plain(s) for s in stages], plain(label_a), plain(label_b)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("Parameters"), _("MACs per image")),
                        horizontal_spacing=0.08)
    for col, idx in ((1, 0), (2, 1)):
        for side, vals, color in ((label_a, a, A_COLOR), (label_b, b, B_COLOR)):
            ys = [v[idx] if v is not None else None for v in vals]
            fig.add_trace(go.Bar(x=list(stages), y=ys, name=side, marker_color=color,
                                 legendgroup=side, showlegend=(col == 1),
                                 text=[human(y) if y else "" for y in ys],
                                 textposition="outside", cliponaxis=False,
                                 hovertemplate=f"{side}<br>%{{x}}: %{{y:,}}<extra></extra>"),
                          row=1, col=col)
    fig.update_layout(barmode="group", height=440, margin=dict(l=10, r=10, t=90, b=10),
                      legend=dict(orientation="h", y=1.2, x=0, yanchor="bottom"), uniformtext_minsize=8,
                      uniformtext_mode="hide")
    fig.update_xaxes(tickangle=-45)
    return fig
