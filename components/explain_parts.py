"""The breakdown's numbers on the *Inside a layer* page: the result next to the real forward's
value, and per kind of layer the windows, kernels and products (convolution), the window and
its max or average (pooling), the largest terms of the dot product (Linear), the formula (BN,
activation) or the inputs an addition / concatenation read — then what follows in the block.
Rows and figures come from :mod:`vizapp.render.plots_explain`; this module only draws."""

from __future__ import annotations

import streamlit as st

from vizapp.i18n import _
from vizapp.labs import explain
from vizapp.render import plots_explain


def _n(v: float | None) -> str:
    return "—" if v is None else f"{v:+.5f}"


def summary(b: explain.Breakdown) -> None:
    """The value computed here and the real forward's, side by side."""
    c1, c2, c3 = st.columns(3)
    c1.metric(_("computed here"), _n(b.output))
    c2.metric(_("the layer's real output"), _n(b.forward_output))
    c3.metric(_("difference"), f"{b.error:.1e}")
    if b.kind in ("conv", "linear"):
        st.text(_("sum of products {s} + bias {bias} = {out}").format(
            s=_n(b.total), bias=_n(b.bias or 0.0), out=_n(b.output)))
    elif b.kind == "pool" and b.pool == "avg":
        st.text(_("window sum {s} ÷ {d} = {out}").format(s=_n(b.total), d=b.divisor,
                                                         out=_n(b.output)))
    elif b.kind == "pool":
        st.text(_("the largest value in the window, at input row {r}, column {c}: {out}")
                .format(r=b.picked[0], c=b.picked[1], out=_n(b.output)))


def details(b: explain.Breakdown, key: str) -> None:
    """Long because it dispatches on the kind of layer; each branch only draws."""
    if b.kind == "conv":
        st.caption(_("Kernel {k}, stride {s}, padding {p}, dilation {d}, groups {g}: the window "
                     "of output ({h}, {w}) starts at input row {r0}, column {c0}; cells marked "
                     "'pad' lie in the zero padding.").format(
            k="×".join(map(str, b.kernel)), s=b.stride, p=b.padding, d=b.dilation, g=b.groups,
            h=b.at[1], w=b.at[2], r0=b.rows[0], c0=b.cols[0]))
        n = len(b.terms)
        shown = st.slider(_("input channels shown"), 1, n, min(3, n), key=key + "shown") \
            if n > 1 else 1
        for t in b.terms[:shown]:
            st.plotly_chart(plots_explain.term_figure(t, list(b.rows), list(b.cols)),
                            width="stretch", theme=None, key=f"{key}term{t.in_channel}")
            st.text(_("channel {c}: sum of products = {s}").format(c=t.in_channel, s=_n(t.sum)))
        with st.expander(_("Sum per input channel ({n})").format(n=n), expanded=n <= 16):
            st.dataframe(plots_explain.channel_rows(b), hide_index=True, width="stretch")
    elif b.kind == "pool":
        st.plotly_chart(plots_explain.term_figure(b.terms[0], list(b.rows), list(b.cols),
                                                  conv=False, picked=b.picked),
                        width="stretch", theme=None, key=key + "pool")
    elif b.kind == "linear":
        st.caption(_("A dot product of {n} inputs with row {f} of the weight matrix; the "
                     "largest terms:").format(n=len(b.vector), f=b.at[-1]))
        st.dataframe(plots_explain.linear_rows(b), hide_index=True, width="stretch")
    elif b.kind == "elementwise":
        if b.formula:
            f = dict(b.formula)
            st.text("(x − μ)/√(σ² + ε)·γ + β = ({x} − {m})/√({v} + {e})·{g} + {be} = {out}".format(
                x=_n(b.total), m=_n(f["mean"]), v=_n(f["var"]), e=f["eps"], g=_n(f["gamma"]),
                be=_n(f["beta"]), out=_n(b.output)))
        else:
            st.text(f"{b.type}({_n(b.total)}) = {_n(b.output)}")
    elif b.kind in ("add", "cat"):
        st.caption(_("This block ends in an addition: the value is the sum of these inputs at "
                     "the same position.") if b.kind == "add" else _(
            "This block ends in a concatenation: the value is copied from one input's "
            "channel."))
        st.dataframe(plots_explain.source_rows(b), hide_index=True, width="stretch")
    if plots_explain.can_animate(b):
        with st.expander(_("The window sliding over the input (animation)")):
            st.plotly_chart(plots_explain.sliding_window(
                b, _("input channel {c}").format(c=b.terms[0].in_channel),
                _("output channel {c}").format(c=b.at[0])), width="stretch", theme=None,
                key=key + "slide")
            st.caption(_("▶ plays the window across every output pixel, row by row; the "
                         "slider steps through them. Red squares: the kernel's taps on the "
                         "input (outside the picture: padding)."))
    if b.then:
        st.subheader(_("Then, in the block"))
        st.dataframe(plots_explain.step_rows(b), hide_index=True, width="stretch")
        for s in b.then:
            if s.params:
                f = dict(s.params)
                st.text(f"{s.name}: ({_n(s.input)} − {_n(f['mean'])})/√({_n(f['var'])} + "
                        f"{f['eps']})·{_n(f['gamma'])} + {_n(f['beta'])} = {_n(s.output)}")
