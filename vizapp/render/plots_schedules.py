"""Plotly figures of learning-rate schedules, from :class:`vizapp.labs.schedules.LRCurve`."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from vizapp.i18n import _
from vizapp.render.fonts import use_cjk_in_plotly_templates

use_cjk_in_plotly_templates()

PALETTE = ("#2563eb", "#dc2626", "#10b981", "#f59e0b", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d")


def lr_curves(curves: Sequence, log_y: bool = False, title: str = "",
              detail: bool = True) -> go.Figure:
    """One line per curve. With ``detail`` (one schedule): a curve with a loss
    (ReduceLROnPlateau) adds it on a second axis, and the epochs where the lr steps or
    restarts are marked; without (the overview), plain lines and a legend on the right."""
    with_loss = detail and any(c.loss for c in curves)
    fig = make_subplots(specs=[[{"secondary_y": with_loss}]])
    for i, c in enumerate(curves):
        color = PALETTE[i % len(PALETTE)]
        fig.add_scatter(x=c.epochs, y=c.lr, mode="lines", name=c.schedule,
                        line=dict(color=color, width=2, shape="hv"),
                        hovertemplate=_("epoch %{x}: lr %{y:.3g}") + "<extra>" + c.schedule + "</extra>",
                        secondary_y=False)
        if c.loss and with_loss:
            fig.add_scatter(x=c.epochs, y=c.loss, mode="lines", name=_("synthetic val loss"),
                            line=dict(color="#94a3b8", width=1.5, dash="dot"), secondary_y=True)
        for e in c.events if detail else ():
            fig.add_vline(x=e, line=dict(color=color, width=1, dash="dot"), opacity=0.5)
    fig.update_yaxes(title_text=_("learning rate"), type="log" if log_y else "linear",
                     secondary_y=False)
    if with_loss:
        fig.update_yaxes(title_text=_("loss"), secondary_y=True, showgrid=False, tickformat=".2f")
    legend = (dict(orientation="h", yanchor="bottom", y=1.02, x=0) if detail else
              dict(orientation="v", yanchor="top", y=1, x=1.02))
    fig.update_layout(height=440, xaxis_title=_("epoch"), template="plotly_white", title=title,
                      margin=dict(l=10, r=10, t=60 if title else 40, b=10), legend=legend)
    return fig
