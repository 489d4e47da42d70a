"""Two ways to write the formula: seed 004's ``(H − K + 2P)/S + 1`` beside PyTorch's
``⌊(H + 2P − D·(K−1) − 1)/S⌋ + 1``, why they agree when the dilation D is 1, why the floor, and
the first convolution of the current model worked both ways with its real numbers (read from
the analysis records). Also what "/2", "jump" and "RF" in the labels and tables mean.

The arithmetic (:func:`seed_form`, :func:`pytorch_form`, :func:`worked`) has no Streamlit in it;
``tests/test_formula.py`` checks it against the analysis' own output shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from vizapp.i18n import N_, _, tr

from .text import md

WINDOW_OPS = ("conv2d", "max_pool2d", "avg_pool2d")


def seed_form(h: int, k: int, s: int, p: int) -> int:
    """Seed 004: ``(H − K + 2P)/S + 1``, the division rounded down."""
    return (h - k + 2 * p) // s + 1


def pytorch_form(h: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """PyTorch's docs: ``⌊(H + 2P − D·(K−1) − 1)/S⌋ + 1`` (⌈…⌉ for a pool with ceil_mode,
    less a last window that would start in the right padding)."""
    num = h + 2 * p - d * (k - 1) - 1
    if not ceil:
        return num // s + 1
    out = -(-num // s) + 1
    return out - 1 if (out - 1) * s >= h + p else out  # no last window starting in the padding


def _pair(v: Any, default: int) -> tuple[int, int]:
    if v is None:
        return default, default
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[-1]))
    return int(v), int(v)


@dataclass(frozen=True)
class Worked:
    """One axis of one window op, worked both ways."""

    node: str
    op: str
    axis: str  # "H" or "W"
    h: int
    k: int
    s: int
    p: int
    d: int
    ceil: bool
    seed: int  # the seed's form
    pytorch: int  # PyTorch's form

    def seed_text(self) -> str:
        return (f"({self.axis} − K + 2P)/S + 1 = ⌊({self.h} − {self.k} + 2·{self.p})/{self.s}⌋ + 1"
                f" = ⌊{self.h - self.k + 2 * self.p}/{self.s}⌋ + 1 = {self.seed}")

    def pytorch_text(self) -> str:
        f = "⌈" if self.ceil else "⌊"
        g = "⌉" if self.ceil else "⌋"
        num = self.h + 2 * self.p - self.d * (self.k - 1) - 1
        return (f"{f}({self.axis} + 2P − D·(K−1) − 1)/S{g} + 1 = "
                f"{f}({self.h} + 2·{self.p} − {self.d}·({self.k}−1) − 1)/{self.s}{g} + 1 = "
                f"{f}{num}/{self.s}{g} + 1 = {self.pytorch}")


def worked(node: Any) -> list[Worked]:
    """Both forms for each spatial axis (H, W) of a conv/pool node, from its attrs and input
    shape; [] for anything else (or a node without a 4-D input)."""
    if node.op not in WINDOW_OPS or not node.input_shapes or len(node.input_shapes[0]) != 4:
        return []
    attrs = dict(node.attrs)
    ks, ss = _pair(attrs.get("kernel"), 1), _pair(attrs.get("stride"), 0)
    ss = ss if ss != (0, 0) else ks  # a pool's stride defaults to its kernel
    ps, ds = _pair(attrs.get("padding"), 0), _pair(attrs.get("dilation"), 1)
    ceil = bool(attrs.get("ceil_mode", False))
    out = []
    for i, axis in enumerate("HW"):
        h = int(node.input_shapes[0][2 + i])
        out.append(Worked(node.id, node.op, axis, h, ks[i], ss[i], ps[i], ds[i], ceil,
                          seed_form(h, ks[i], ss[i], ps[i]),
                          pytorch_form(h, ks[i], ss[i], ps[i], ds[i], ceil)))
    return out


def first_conv(analysis: Any) -> Any:
    """The first node with op conv2d (None if the model has none)."""
    return next((n for n in analysis.nodes if n.op == "conv2d" and worked(n)), None)


WHY = N_("""\
**Why they agree when D = 1.** A dilated kernel of size K spans D·(K−1) + 1 input pixels; with
D = 1 that is K. So H + 2P − D·(K−1) − 1 = H + 2P − K: PyTorch's numerator *is* the seed's
H − K + 2P. The seed's form is the special case; PyTorch's also covers dilation (and `ceil_mode`
for pools, ⌈…⌉ instead of ⌊…⌋).

**Why the floor.** H − K + 2P counts how far the window can slide; every S pixels it takes a
step, and a step that would leave the window hanging over the edge is not taken — an output
pixel exists only where the whole window fits. So the division rounds down, then + 1 for the
window's first position: 7 − 3 with S = 2 gives 4/2 + 1 = 3 positions (0, 2, 4); with 8 − 3 it
is ⌊5/2⌋ + 1 = 3 as well, the last pixel is never reached.""")

TERMS = N_("""\
**Words in the labels and tables**
- **Settings in a label** (`Conv2d 7×7 s2 p3 · 1→64`, `MaxPool 3×3 s2`): the kernel K×K,
  then **s** the stride, **p** the padding, **d** the dilation and **g** the groups, each only
  when it is not the default (s1, p0, d1, g1), then the channels in→out. **s2** keeps every
  second window position, so H and W are halved (rounded as above).
- **RF** (receptive field): how many input pixels, per side, one output pixel of this layer sees.
  Each layer adds (K − 1)·jump to it.
- **jump**: how many input pixels apart two neighbouring output pixels of this layer are — the
  product of the strides so far. After ResNet's stem (stride 2, then a stride-2 pool) it is 4.""")


def _example(node: Any) -> None:
    ws = worked(node)
    attrs = dict(node.attrs)
    st.markdown(md(_("**The first convolution of this model, {}**: input {}×{}, kernel {}, "
                     "stride {}, padding {}, dilation {} → output {}×{}."),
                   node.module_path or node.id, ws[0].h, ws[1].h, attrs.get("kernel"),
                   attrs.get("stride"), attrs.get("padding"), attrs.get("dilation"),
                   node.output_shape[2], node.output_shape[3]))
    axes = ws if (ws[0].h, ws[0].k, ws[0].s, ws[0].p, ws[0].d) != \
        (ws[1].h, ws[1].k, ws[1].s, ws[1].p, ws[1].d) else ws[:1]
    lines = []
    for w in axes:
        lines += [_("seed 004: {text}").format(text=w.seed_text()),
                  f"PyTorch:  {w.pytorch_text()}"]
    st.code("\n".join(lines), language=None, wrap_lines=True)


def panel(analysis: Any, example: bool = True) -> None:
    """The expander on the Shapes page (``example=False`` in exercise mode: the worked first
    convolution would give its answer away)."""
    with st.expander(_("Two ways to write the formula — and what /2, jump and RF mean"),
                     icon=":material/function:"):
        c1, c2 = st.columns(2)
        c1.markdown(_("**Seed 004** (the textbook)"))
        c1.code("H_out = (H − K + 2P)/S + 1", language=None)
        c2.markdown(_("**PyTorch** (the docs, and this app)"))
        c2.code("H_out = ⌊(H + 2P − D·(K−1) − 1)/S⌋ + 1", language=None)
        st.caption(_("H: input height (W the same), K: kernel, P: padding, S: stride, "
                     "D: dilation (1 unless set)."))
        node = first_conv(analysis)
        if node is not None and example:
            _example(node)
        st.markdown(tr(WHY))
        st.markdown(tr(TERMS))
