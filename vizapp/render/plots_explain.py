"""Figures and tables of one output value's breakdown (:class:`vizapp.labs.explain.Breakdown`):
the clickable output plane, the input with the receptive-field box, the window / kernel /
products of an input channel with their numbers written in the cells, and the rows of the
tables the page shows. No Streamlit."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizapp.i18n import _
from vizapp.render import plots_features
from vizapp.render.fonts import use_cjk_in_plotly_templates

use_cjk_in_plotly_templates()

MAX_CLICK_CELLS = 128 * 128  # planes above this are drawn without the click layer
TEXT_CELLS = 12  # write numbers into windows up to this side


def output_plane(plane: np.ndarray, at: Sequence[int], title: str, height: int = 320
                 ) -> go.Figure:
    """The output plane as a heatmap, the chosen pixel outlined; an invisible scatter with one
    point per cell carries the clicks (Streamlit selects points, not heatmap cells)."""
    h, w = plane.shape
    clickable = h * w <= MAX_CLICK_CELLS
    fig = go.Figure(go.Heatmap(z=plane, colorscale="Viridis", showscale=True,
                               hoverinfo="skip" if clickable else None,
                               hovertemplate=None if clickable else
                               "(%{y}, %{x}) %{z:.4f}<extra></extra>"))
    if clickable:  # the points take the hover and the click
        ys, xs = np.mgrid[0:h, 0:w]
        fig.add_scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", customdata=plane.ravel(),
                        hovertemplate="(%{y}, %{x}) %{customdata:.4f}<extra></extra>",
                        marker=dict(size=max(4, min(30, 280 // max(h, w))), symbol="square",
                                    opacity=0.01, color="white"), showlegend=False)
    r, c = (int(at[-2]), int(at[-1])) if len(at) >= 3 else (0, int(at[-1]))
    fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                  line=dict(color="red", width=3))
    fig.update_yaxes(autorange="reversed", scaleanchor="x" if h > 1 else None, visible=False)
    fig.update_xaxes(visible=False)
    fig.update_layout(height=height, title=title, margin=dict(l=0, r=0, t=30, b=0),
                      template="plotly_white", dragmode=False, clickmode="event+select")
    return fig


def input_with_box(image: np.ndarray, box: tuple[int, int, int, int] | None, title: str,
                   scale: tuple[float, float] = (1.0, 1.0)) -> go.Figure:
    """The model input with the pixel's receptive field outlined (``scale``: display pixels
    per input pixel when the picture was averaged down)."""
    fig = plots_features.input_image(image, title)
    if box is not None:
        top, left, bottom, right = box
        sy, sx = scale
        fig.add_shape(type="rect", x0=left * sx - 0.5, x1=(right + 1) * sx - 0.5,
                      y0=top * sy - 0.5, y1=(bottom + 1) * sy - 0.5,
                      line=dict(color="red", width=3), fillcolor="rgba(255,0,0,0.12)")
    fig.update_layout(height=320)
    return fig


def _cells(grid: Any, padded: Any = None) -> list[list[str]]:
    a = np.asarray(grid, dtype=float)
    pad = np.asarray(padded, dtype=bool) if padded is not None and len(padded) else \
        np.zeros(a.shape, bool)
    word = _("pad")  # zero padding shows "0 pad"; reflect/replicate/circular their value

    def cell(v: float, padded: bool) -> str:
        return f"{'0' if v == 0 else f'{v:.2f}'} {word}" if padded else f"{v:.2f}"

    return [[cell(float(a[i, j]), bool(pad[i, j])) for j in range(a.shape[1])]
            for i in range(a.shape[0])]


def term_figure(term: Any, rows: Sequence[int], cols: Sequence[int], conv: bool = True,
                picked: tuple[int, int] | None = None) -> go.Figure:
    """One input channel: its window (labelled with the input rows/columns), and for a
    convolution the kernel and the element-wise products, each cell with its number."""
    panels = [(_("input window (channel {c})").format(c=term.in_channel), term.window)]
    if conv:
        panels += [(_("kernel"), term.weights), (_("window × kernel"), term.products)]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels],
                        horizontal_spacing=0.06)
    small = len(rows) <= TEXT_CELLS and len(cols) <= TEXT_CELLS
    for i, (_title, grid) in enumerate(panels):
        z = np.asarray(grid, dtype=float)
        text = _cells(grid, term.padded if i == 0 else None)
        fig.add_heatmap(z=z, x=[str(c) for c in cols], y=[str(r) for r in rows],
                        colorscale="RdBu" if i else "gray", zmid=0 if i else None,
                        showscale=False, text=text, texttemplate="%{text}" if small else None,
                        hovertemplate="%{text}<extra></extra>", row=1, col=i + 1)
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=i + 1)
        fig.update_xaxes(type="category", row=1, col=i + 1)
    if picked is not None:
        fig.add_shape(type="rect", x0=cols.index(picked[1]) - 0.5,
                      x1=cols.index(picked[1]) + 0.5, y0=rows.index(picked[0]) - 0.5,
                      y1=rows.index(picked[0]) + 0.5, line=dict(color="red", width=3),
                      row=1, col=1)
    fig.update_layout(height=260, margin=dict(l=0, r=0, t=30, b=0), template="plotly_white")
    return fig


def channel_rows(b: Any) -> list[dict[str, Any]]:
    """One row per input channel of a convolution: its sum of products, and the running total."""
    out, total = [], 0.0
    for t in b.terms:
        total += t.sum
        out.append({_("input channel"): t.in_channel, _("sum of products"): t.sum,
                    _("running total"): total})
    return out


def linear_rows(b: Any, top: int = 20) -> list[dict[str, Any]]:
    """The ``top`` largest |input × weight| terms of a Linear output, largest first."""
    x, w = np.asarray(b.vector), np.asarray(b.weights)
    prod = x * w
    order = np.argsort(-np.abs(prod))[:top]
    rows = []
    for i in order:
        origin = b.origins[i] if b.origins else ()
        rows.append({_("index"): int(i), _("from (c, h, w)"): str(tuple(origin)) if origin
                     else "", _("input"): float(x[i]), _("weight"): float(w[i]),
                     _("product"): float(prod[i])})
    return rows


def step_rows(b: Any) -> list[dict[str, Any]]:
    """What follows the layer: one row per BN / activation, its input, output and the real
    forward's value."""
    return [{_("layer"): s.name, _("op"): s.op, _("in"): s.input, _("out"): s.output,
             _("real forward"): s.forward_output} for s in b.then]


def source_rows(b: Any) -> list[dict[str, Any]]:
    """Where an add / cat value came from."""
    return [{_("node"): s.node, _("module"): s.module or _("(the block's input)"),
             _("channel"): s.channel, _("value"): s.value} for s in b.sources]


MAX_FRAMES = 32 * 32  # the animation is offered for output planes up to this many pixels


def _taps(b: Any, h: int, w: int) -> tuple[list[int], list[int]]:
    """Input (row, col) of every kernel tap of output (h, w)."""
    rows = [h * b.stride[0] - b.padding[0] + i * b.dilation[0] for i in range(b.kernel[0])]
    cols = [w * b.stride[1] - b.padding[1] + j * b.dilation[1] for j in range(b.kernel[1])]
    return [r for r in rows for _c in cols], [c for _r in rows for c in cols]


def can_animate(b: Any) -> bool:
    """A convolution or fixed-window pooling with a small enough output plane."""
    return (b.kind in ("conv", "pool") and b.input_plane is not None and b.plane is not None
            and not b.type.startswith("Adaptive") and b.plane.size <= MAX_FRAMES)


def _frame_data(b: Any, h: int, w: int) -> list[go.Scatter]:
    ys, xs = _taps(b, h, w)
    return [go.Scatter(x=xs, y=ys, mode="markers", marker=dict(size=9, color="red",
                                                               symbol="square-open",
                                                               line=dict(width=2))),
            go.Scatter(x=[w], y=[h], mode="markers", marker=dict(size=14, color="red",
                                                                 symbol="square-open",
                                                                 line=dict(width=3)))]


def sliding_window(b: Any, title_in: str, title_out: str) -> go.Figure:
    """The window sliding over the input (its taps in red, padding outside the picture) while
    the output pixel it makes is marked: one frame per output pixel, row by row, with play /
    pause buttons and a step slider (plotly's own, in the browser)."""
    oh, ow = b.plane.shape
    fig = make_subplots(rows=1, cols=2, subplot_titles=(title_in, title_out),
                        horizontal_spacing=0.08)
    fig.add_heatmap(z=b.input_plane, colorscale="gray", showscale=False, hoverinfo="skip",
                    row=1, col=1)
    fig.add_heatmap(z=b.plane, colorscale="Viridis", showscale=False, hoverinfo="skip",
                    row=1, col=2)
    first = _frame_data(b, int(b.at[1]), int(b.at[2]))
    first[0].update(xaxis="x", yaxis="y", showlegend=False)
    first[1].update(xaxis="x2", yaxis="y2", showlegend=False)
    fig.add_trace(first[0])
    fig.add_trace(first[1])
    frames, steps = [], []
    for k in range(oh * ow):
        h, w = divmod(k, ow)
        frames.append(go.Frame(data=_frame_data(b, h, w), traces=[2, 3], name=str(k)))
        steps.append(dict(method="animate", label=f"{h},{w}",
                          args=[[str(k)], dict(mode="immediate", transition=dict(duration=0),
                                                frame=dict(duration=0, redraw=True))]))
    fig.frames = frames
    H, W = b.input_plane.shape
    p0, p1 = b.padding
    fig.update_xaxes(range=[-p1 - 0.5, W + p1 - 0.5], visible=False, row=1, col=1)
    fig.update_yaxes(range=[H + p0 - 0.5, -p0 - 0.5], visible=False, scaleanchor="x",
                     row=1, col=1)
    fig.update_xaxes(visible=False, row=1, col=2)
    fig.update_yaxes(autorange="reversed", visible=False, scaleanchor="x2", row=1, col=2)
    play = dict(label="▶", method="animate", args=[None, dict(
        frame=dict(duration=150, redraw=True), transition=dict(duration=0), fromcurrent=True)])
    pause = dict(label="❚❚", method="animate", args=[[None], dict(
        mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))])
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=30, b=0), template="plotly_white",
                      showlegend=False, updatemenus=[dict(type="buttons", direction="left",
                                                          buttons=[play, pause], x=0, y=-0.05,
                                                          xanchor="left", yanchor="top")],
                      sliders=[dict(steps=steps, active=int(b.at[1]) * ow + int(b.at[2]),
                                    x=0.12, len=0.88, y=-0.02, ticklen=0,
                                    font=dict(color="rgba(0,0,0,0)"), currentvalue=dict(
                                        prefix="(h, w) = ", font=dict(color="#333")))])
    return fig
