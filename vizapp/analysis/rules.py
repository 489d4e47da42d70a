"""Per-op arithmetic rules: output shape, MACs, receptive-field step and the worked explanation,
computed in one step from the input shapes and the op's hyper-parameters.

A rule takes a :class:`Call` (the op, its module if any, its resolved arguments) and returns an
:class:`OpResult`, or raises :class:`ShapeError` naming what went wrong and how to fix it. Ops
without a rule are executed on meta tensors by the caller (``core.py``).

MACs count the multiply–accumulates of convolutions, linear layers and matrix products — what
``torch.utils.flop_counter`` counts (FLOPs = 2 × MACs). Normalisation, activations, pooling and
additions are memory-bound and counted as 0, as torchvision's published figures do.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from vizapp.fmt import count, hw_text, shape_text as fmt_shape
from vizapp.i18n import msg

from .records import Shortcut


@dataclass(frozen=True)
class TMeta:
    """A tensor as the rules see it: its shape and dtype, nothing else."""

    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float32


class ShapeError(Exception):
    """An op cannot run on these input shapes.

    ``spatial``: the input image is too small (a search for the minimum input size makes
    sense). ``kind``: which bug it is, for the headline and the explanation a student reads
    (see :data:`~.records.FAILURE_KINDS`); derived from the other fields when not given."""

    def __init__(self, message: str, fix: str = "", spatial: bool = False,
                 features: tuple[int, int] | None = None, kind: str = ""):
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.spatial = spatial
        self.features = features  # (wanted, got) when a Linear gets the wrong feature count
        self.kind = kind or ("too_small" if spatial else "linear_features" if features
                             else "other")


@dataclass
class RFStep:
    """How an op transforms the receptive field, per axis (H, W)."""

    rule: str  # "window" | "transposed" | "identity" | "merge" | "flat"
    k: tuple[int, int] = (1, 1)  # effective kernel d·(k−1)+1
    s: tuple[int, int] = (1, 1)
    p: tuple[int, int] = (0, 0)


@dataclass
class OpResult:
    value: Any  # TMeta or a Python value (int, torch.Size, tuple)
    op: str = "other"
    category: str = "other"  # one of records.CATEGORIES
    label: str = ""
    macs: int = 0
    explanation: str = ""
    param_explanation: str = ""
    attrs: tuple[tuple[str, Any], ...] = ()
    rf: RFStep | None = None
    shortcut: Shortcut | None = None  # residual additions: the skip path
    macs_note: str = ""  # non-empty: the MACs of this op are not counted, and why


@dataclass
class Call:
    call_type: str  # "module" | "function" | "method"
    target: Any  # module instance, function, or method name
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    name: str = ""  # module path or function name, for messages
    explain: bool = True
    from_input: tuple[bool, ...] = ()  # per input step: is it the network input?
    pre_flatten: tuple[int, ...] | None = None  # shape before the flatten feeding this op
    input_hw: tuple[int, ...] = ()  # H, W of the network input
    shortcut: Shortcut | None = None  # residual additions: the skip path (set by the pass)

    def tensor(self, i: int = 0) -> TMeta:
        v = self.args[i] if i < len(self.args) else None
        if not isinstance(v, TMeta):
            raise NoRule()
        return v


class NoRule(Exception):
    """The rule cannot handle these arguments; execute on meta instead."""


# ----------------------------------------------------------------------------- formatting
_n = count

def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[-1])) if len(v) > 1 else (int(v[0]), int(v[0]))
    return (int(v), int(v))


_hw = hw_text

# a layer's settings in its label, each with the default it is left out at
_SETTINGS = (("stride", "s", (1, 1)), ("padding", "p", (0, 0)), ("dilation", "d", (1, 1)))


def settings_label(name: str, attrs: tuple[tuple[str, Any], ...]) -> str:
    """A windowed layer's label from its record's settings (the fields
    :func:`vizapp.render.calls.layer_call` writes the full call from): the kernel, then stride,
    padding, dilation and groups where they are not the default, then the channels —
    ``Conv2d 5×5 p2 · 1→6``, ``Conv2d 11×11 s4 p1 · 1→96``, ``MaxPool 3×3 s2``,
    ``Conv2d 3×3 p2 d2 g32 · 256→256`` (a non-square setting per axis: ``s2×1``)."""
    a = dict(attrs)
    k = _pair(a["kernel"])
    parts = [name, f"{k[0]}×{k[1]}"]
    for key, tag, default in _SETTINGS:
        if key in a and _pair(a[key]) != default:
            parts.append(tag + _hw(_pair(a[key])))
    if a.get("groups", 1) != 1:
        parts.append(f"g{a['groups']}")
    text = " ".join(parts)
    return text + (f" · {a['in']}→{a['out']}" if "in" in a and "out" in a else "")


# ----------------------------------------------------------------------------- windows
def window_out(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> tuple[int, str]:
    """⌊(H + 2p − d(k−1) − 1)/s⌋ + 1 (⌈…⌉ with ceil_mode, where the last window must start
    inside the input or left padding) and its worked text."""
    num = size + 2 * p - d * (k - 1) - 1
    if ceil:  # PyTorch's pooling_output_shape: round up, but drop a window starting in padding
        out = (num + s - 1) // s + 1
        if (out - 1) * s >= size + p:
            out -= 1
        br = ("⌈", "⌉")
    else:
        out = num // s + 1
        br = ("⌊", "⌋")
    out = max(out, 0)
    dk = f"{d}·({k}−1)" if d != 1 else f"({k}−1)"
    text = f"{br[0]}({size} + 2·{p} − {dk} − 1)/{s}{br[1]} + 1 = {out}"
    return out, text


def _window_rule(c: Call, x: TMeta, k, s, p, d, ceil: bool, what: str, cout: int) -> tuple:
    if len(x.shape) != 4:
        if len(x.shape) == 3:  # unbatched C×H×W
            raise NoRule()
        raise ShapeError(msg("{what} needs a 4-D input N×C×H×W but got {n}-D {shape}",
                             what=what, n=len(x.shape), shape=fmt_shape(x.shape, True)),
                         msg("flatten/reshape earlier, or feed an image tensor"))
    n, _, h, w = x.shape
    kh, kw = _pair(k)
    sh, sw = _pair(s)
    ph, pw = _pair(p)
    dh, dw = _pair(d)
    ho, th = window_out(h, kh, sh, ph, dh, ceil)
    wo, tw = window_out(w, kw, sw, pw, dw, ceil)
    if ho <= 0 or wo <= 0:
        eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        raise ShapeError(
            msg("{what} gets a {hw} feature map, smaller than its {window} window (with padding "
                "{p}): H_out = {formula}", what=what, hw=f"{h}×{w}", window=f"{eff_h}×{eff_w}",
                p=ph, formula=th),
            msg("use a larger input image, or reduce kernel size, stride or the number of "
                "downsampling layers before this one"), spatial=True)
    out = (n, cout, ho, wo)
    if th == tw:
        expl = f"H_out = W_out = {th}"
    else:
        expl = f"H_out = {th}; W_out = {tw}"
    rf = RFStep("window", (dh * (kh - 1) + 1, dw * (kw - 1) + 1), (sh, sw), (ph, pw))
    return out, expl, rf, (kh, kw), (sh, sw), (ph, pw), (dh, dw)


# ----------------------------------------------------------------------------- module rules
def conv2d(c: Call) -> OpResult:
    m: nn.Conv2d = c.target
    x = c.tensor()
    if len(x.shape) == 4 and x.shape[1] != m.in_channels:
        first = c.from_input == (True,)  # the input image itself: no layer before to change
        raise ShapeError(
            msg("{layer} expects {want} input channels but gets {got} ({shape})",
                layer=m.__class__.__name__, want=m.in_channels, got=x.shape[1],
                shape=fmt_shape(x.shape)),
            msg("set the input channels to {want} (C of the input N×C×H×W), or build this conv "
                "with in_channels={got}", want=m.in_channels, got=x.shape[1]) if first else
            msg("make the previous layer output {want} channels, or build this conv with "
                "in_channels={got}", want=m.in_channels, got=x.shape[1]), kind="channels")
    if isinstance(m.padding, str) or m.padding_mode != "zeros":
        raise NoRule()
    out, expl, rf, k, s, p, d = _window_rule(c, x, m.kernel_size, m.stride, m.padding,
                                             m.dilation, False, "Conv2d", m.out_channels)
    g = m.groups
    macs = out[0] * out[1] * out[2] * out[3] * (m.in_channels // g) * k[0] * k[1]
    text = pexpl = ""
    if c.explain:
        text = (msg("Conv2d {cin}→{cout}, kernel {k}, stride {s}, padding {p}",
                    cin=m.in_channels, cout=m.out_channels, k=_hw(k), s=_hw(s), p=_hw(p))
                + (msg(", dilation {d}", d=_hw(d)) if d != (1, 1) else "")
                + (msg(", groups {g}", g=g) if g > 1 else "")
                + f": {expl} → {fmt_shape(x.shape)} → {fmt_shape(out)}")
        w = k[0] * k[1] * (m.in_channels // g) * m.out_channels
        ksq = f"{k[0]}²" if k[0] == k[1] else f"{k[0]}·{k[1]}"
        gdiv = f"/{g}" if g > 1 else ""
        if m.bias is not None:
            pexpl = (f"k²·Cin·Cout/g + Cout = {ksq}·{m.in_channels}·{m.out_channels}{gdiv} + "
                     f"{m.out_channels} = {_n(w + m.out_channels)}")
        else:
            pexpl = f"k²·Cin·Cout/g = {ksq}·{m.in_channels}·{m.out_channels}{gdiv} = {_n(w)}" \
                + msg(" (no bias)")
        text += f"; MACs = N·Cout·H·W·(Cin/g)·k² = {_n(macs)}"
    attrs = (("kernel", k), ("stride", s), ("padding", p), ("dilation", d), ("groups", g),
             ("in", m.in_channels), ("out", m.out_channels))
    return OpResult(TMeta(out, x.dtype), "conv2d", "conv", settings_label("Conv2d", attrs),
                    macs, text, pexpl, attrs, rf)


def pool2d(c: Call) -> OpResult:
    m = c.target
    x = c.tensor()
    is_max = isinstance(m, nn.MaxPool2d)
    name = type(m).__name__
    d = m.dilation if is_max else 1
    if len(x.shape) != 4:
        raise NoRule()
    out, expl, rf, k, s, p, dd = _window_rule(c, x, m.kernel_size, m.stride, m.padding, d,
                                              m.ceil_mode, name, x.shape[1])
    attrs = (("kernel", k), ("stride", s), ("padding", p)) + \
        ((("dilation", dd),) if dd != (1, 1) else ())  # a dilated max-pool says so
    text = ""
    if c.explain:
        text = (msg("{name} kernel {k}, stride {s}, padding {p}", name=name, k=_hw(k), s=_hw(s),
                    p=_hw(p)) + (", ceil_mode" if m.ceil_mode else "")
                + f": {expl} → {fmt_shape(x.shape)} → {fmt_shape(out)}"
                + msg(" (channels unchanged)"))
    value: Any = TMeta(out, x.dtype)
    if is_max and getattr(m, "return_indices", False):
        value = (value, TMeta(out, torch.int64))
        text += "; also returns the index of each maximum (for MaxUnpool2d)" if text else ""
    return OpResult(value, "max_pool2d" if is_max else "avg_pool2d", "pool",
                    settings_label("MaxPool" if is_max else "AvgPool", attrs), 0, text,
                    msg("no parameters") if c.explain else "", attrs, rf)


def max_unpool(c: Call) -> OpResult:
    """MaxUnpool2d: H_out = (H − 1)·S − 2P + K (or the ``output_size`` given)."""
    m: nn.MaxUnpool2d = c.target
    x = c.tensor()
    if len(x.shape) != 4:
        raise NoRule()
    (kh, kw), (sh, sw), (ph, pw) = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
    size = c.args[2] if len(c.args) > 2 else c.kwargs.get("output_size")
    if size is not None:
        raise NoRule()  # an explicit output_size: let PyTorch check it on meta
    ho, wo = (x.shape[2] - 1) * sh - 2 * ph + kh, (x.shape[3] - 1) * sw - 2 * pw + kw
    out = (x.shape[0], x.shape[1], ho, wo)
    text = ""
    if c.explain:
        text = msg("MaxUnpool2d kernel {k}, stride {s}: puts each value back where its maximum "
                   "came from, zeros elsewhere: H_out = (H − 1)·S − 2P + K = ({h} − 1)·{sh} − "
                   "2·{ph} + {kh} = {ho} → {a} → {b}", k=_hw((kh, kw)), s=_hw((sh, sw)),
                   h=x.shape[2], sh=sh, ph=ph, kh=kh, ho=ho, a=fmt_shape(x.shape),
                   b=fmt_shape(out))
    rf = RFStep("transposed", (kh, kw), (sh, sw), (ph, pw))
    attrs = (("kernel", (kh, kw)), ("stride", (sh, sw)))
    return OpResult(TMeta(out, x.dtype), "max_unpool2d", "pool",
                    settings_label("MaxUnpool", attrs), 0, text,
                    msg("no parameters") if c.explain else "", attrs, rf)


def conv_transpose2d(c: Call) -> OpResult:
    """H_out = (H − 1)·S − 2P + D·(K − 1) + output_padding + 1; MACs as flop_counter counts
    them: N·Cin·H_in·W_in·(Cout/g)·K²."""
    m: nn.ConvTranspose2d = c.target
    x = c.tensor()
    if len(x.shape) != 4 or x.shape[1] != m.in_channels or m.padding_mode != "zeros":
        raise NoRule()  # PyTorch's own message on meta
    if (len(c.args) > 1 and c.args[1] is not None) or c.kwargs.get("output_size") is not None:
        raise NoRule()
    k, s, p, d, op = (_pair(v) for v in (m.kernel_size, m.stride, m.padding, m.dilation,
                                         m.output_padding))
    ho = (x.shape[2] - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1
    wo = (x.shape[3] - 1) * s[1] - 2 * p[1] + d[1] * (k[1] - 1) + op[1] + 1
    if ho <= 0 or wo <= 0:
        raise NoRule()
    out = (x.shape[0], m.out_channels, ho, wo)
    g = m.groups
    macs = x.shape[0] * m.in_channels * x.shape[2] * x.shape[3] * (m.out_channels // g) * k[0] * k[1]
    text = pexpl = ""
    if c.explain:
        text = msg("ConvTranspose2d {cin}→{cout}, kernel {k}, stride {s}, padding {p}: "
                   "H_out = (H − 1)·S − 2P + D·(K − 1) + output_padding + 1 = ({h} − 1)·{s0} − "
                   "2·{p0} + {d0}·({k0} − 1) + {op0} + 1 = {ho} → {a} → {b}; MACs = "
                   "N·Cin·H_in·W_in·(Cout/g)·k² = {macs}", cin=m.in_channels,
                   cout=m.out_channels, k=_hw(k), s=_hw(s), p=_hw(p), h=x.shape[2], s0=s[0],
                   p0=p[0], d0=d[0], k0=k[0], op0=op[0], ho=ho, a=fmt_shape(x.shape),
                   b=fmt_shape(out), macs=_n(macs))
        w = k[0] * k[1] * m.in_channels * (m.out_channels // g)
        b = m.out_channels if m.bias is not None else 0
        pexpl = f"k²·Cin·Cout/g + bias = {_n(w)} + {b} = {_n(w + b)}"
    rf = RFStep("transposed", (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1), s, p)
    attrs = (("kernel", k), ("stride", s), ("padding", p)) + \
        ((("dilation", d),) if d != (1, 1) else ()) + \
        ((("groups", g),) if g != 1 else ()) + (("in", m.in_channels), ("out", m.out_channels))
    return OpResult(TMeta(out, x.dtype), "conv_transpose2d", "conv",
                    settings_label("ConvT", attrs), macs, text, pexpl, attrs, rf)


def _pad_amounts(pad: Any) -> tuple[int, int, int, int] | None:
    """(left, right, top, bottom) of a 2-D pad spec, or None when it is not one."""
    if isinstance(pad, int):
        return (pad,) * 4
    pad = tuple(pad)
    if len(pad) == 2:
        return (pad[0], pad[1], 0, 0)
    if len(pad) == 4 and all(isinstance(v, int) for v in pad):
        return pad  # type: ignore[return-value]
    return None


def pad_shape(c: Call, x: TMeta, pad: Any, mode: str) -> OpResult:
    amounts = _pad_amounts(pad)
    if amounts is None or len(x.shape) != 4:
        raise NoRule()
    left, right, top, bottom = amounts
    out = (x.shape[0], x.shape[1], x.shape[2] + top + bottom, x.shape[3] + left + right)
    if out[2] <= 0 or out[3] <= 0:
        raise NoRule()
    text = ""
    if c.explain:
        text = msg("{mode} padding (left {left}, right {right}, top {top}, bottom {bottom}): "
                   "H = {h} + {top} + {bottom} = {ho}, W = {w} + {left} + {right} = {wo} → "
                   "{a} → {b}", mode=mode, left=left, right=right, top=top, bottom=bottom,
                   h=x.shape[2], ho=out[2], w=x.shape[3], wo=out[3], a=fmt_shape(x.shape),
                   b=fmt_shape(out))
    # a pad is a 1×1 window with padding (top, left): the centre of output pixel 0 moves
    rf = RFStep("window", (1, 1), (1, 1), (top, left))
    return OpResult(TMeta(out, x.dtype), "pad", "other", f"Pad {left},{right},{top},{bottom}",
                    0, text, msg("no parameters") if c.explain else "",
                    (("pad", (left, right, top, bottom)),), rf)


def pad_module(c: Call) -> OpResult:
    m = c.target
    mode = type(m).__name__.replace("Pad2d", "").lower() or "zero"
    return pad_shape(c, c.tensor(), m.padding, mode)


def f_pad(c: Call) -> OpResult:
    pad = c.args[1] if len(c.args) > 1 else c.kwargs.get("pad")
    mode = c.args[2] if len(c.args) > 2 else c.kwargs.get("mode", "constant")
    return pad_shape(c, c.tensor(), pad, str(mode))


def attention(c: Call) -> OpResult:
    """nn.MultiheadAttention: output (L, N, E) — or (N, L, E) with batch_first — and the
    attention weights. MACs: the q/k/v in-projections, QKᵀ, attention×V and the
    out-projection: N·(L·E·E + S·E·kdim + S·E·vdim + 2·L·S·E + L·E·E)."""
    m: nn.MultiheadAttention = c.target
    q = c.tensor(0)
    k = c.args[1] if len(c.args) > 1 else c.kwargs.get("key")
    v = c.args[2] if len(c.args) > 2 else c.kwargs.get("value")
    if not (isinstance(k, TMeta) and isinstance(v, TMeta)) or len(q.shape) != 3:
        raise NoRule()
    bf = m.batch_first
    n, L = (q.shape[0], q.shape[1]) if bf else (q.shape[1], q.shape[0])
    S = k.shape[1] if bf else k.shape[0]
    E = m.embed_dim
    if q.shape[2] != E:
        raise ShapeError(msg("MultiheadAttention expects embed_dim {e} but the query has "
                             "{f} features ({shape})", e=E, f=q.shape[2],
                             shape=fmt_shape(q.shape, True)),
                         msg("build it with embed_dim={f}", f=q.shape[2]))
    macs = n * (L * E * E + S * E * m.kdim + S * E * m.vdim + 2 * L * S * E + L * E * E)
    need = c.kwargs.get("need_weights", c.args[4] if len(c.args) > 4 else True)
    avg = c.kwargs.get("average_attn_weights", True)
    weights = None
    if need:
        weights = TMeta((n, L, S) if avg else (n, m.num_heads, L, S), q.dtype)
    text = pexpl = ""
    if c.explain:
        h = m.num_heads
        text = msg("MultiheadAttention, {h} heads of {d}: {L} queries attend to {S} keys → "
                   "{shape}; MACs = N·(L·E² in q + S·E·E k,v projections + 2·L·S·E for QKᵀ and "
                   "attention×V + L·E² out) = {n}·({L}·{E}² + 2·{S}·{E}² + 2·{L}·{S}·{E} + "
                   "{L}·{E}²) = {macs}", h=h, d=E // h, L=L, S=S, E=E, n=n,
                   shape=fmt_shape(q.shape, True), macs=_n(macs))
        pexpl = f"4·E² + 4·E (q, k, v, out projections) = {_n(sum(p.numel() for p in m.parameters()))}"
    return OpResult((TMeta(q.shape, q.dtype), weights), "multihead_attention", "linear",
                    f"Attention {m.num_heads}×{E // m.num_heads}", macs, text, pexpl,
                    (("heads", m.num_heads), ("embed_dim", E)), RFStep("flat"))


def adaptive_pool(c: Call, out_size: Any = None, is_max: bool | None = None) -> OpResult:
    x = c.tensor()
    if len(x.shape) != 4:
        raise NoRule()
    m = c.target if c.call_type == "module" else None
    if m is not None:
        out_size = m.output_size
        is_max = isinstance(m, nn.AdaptiveMaxPool2d)
    n, ch, h, w = x.shape
    oh, ow = _pair(out_size if out_size is not None else (h, w))
    oh = h if oh is None else oh
    ow = w if ow is None else ow
    if h == 0 or w == 0:
        raise ShapeError(msg("adaptive pooling gets an empty {hw} map", hw=f"{h}×{w}"),
                         msg("use a larger input"), spatial=True)
    out = (n, ch, oh, ow)
    kh = max(math.ceil((i + 1) * h / oh) - (i * h) // oh for i in range(oh))
    kw = max(math.ceil((i + 1) * w / ow) - (i * w) // ow for i in range(ow))
    name = f"Adaptive{'Max' if is_max else 'Avg'}Pool2d"
    text = ""
    if c.explain:
        if (oh, ow) == (1, 1):
            how = msg("reduced to its maximum") if is_max else msg("averaged")
            text = msg("{name} to 1×1: each channel's whole {hw} map is {how} → {a} → {b} (any "
                       "input size gives 1×1)", name=name, hw=f"{h}×{w}", how=how,
                       a=fmt_shape(x.shape), b=fmt_shape(out))
        else:
            text = msg("{name} to {o}: windows of up to {k} cells, chosen so that any input size "
                       "gives {o} → {a} → {b}", name=name, o=f"{oh}×{ow}", k=f"{kh}×{kw}",
                       a=fmt_shape(x.shape), b=fmt_shape(out))
    sh, sw = max(h // oh, 1), max(w // ow, 1)
    rf = RFStep("window", (kh, kw), (sh, sw), (0, 0))
    return OpResult(TMeta(out, x.dtype), "adaptive_max_pool2d" if is_max else "adaptive_avg_pool2d",
                    "pool", f"{name.replace('2d', '')} → {oh}×{ow}", 0, text,
                    msg("no parameters") if c.explain else "", (("output_size", (oh, ow)),), rf)


def linear(c: Call) -> OpResult:
    m: nn.Linear = c.target
    x = c.tensor()
    if not x.shape or x.shape[-1] != m.in_features:
        got = x.shape[-1] if x.shape else 0
        hint = ""
        if len(x.shape) > 2:
            hint = msg(" (flatten the feature map first)")
        elif c.pre_flatten is not None and len(c.pre_flatten) > 2:
            hint = (" = " + "·".join(map(str, c.pre_flatten[1:])) + f" ≠ {m.in_features}")
        rows = math.prod(x.shape[:-1]) if x.shape else 0
        raise ShapeError(
            msg("Linear expects {want} input features but gets {got}{hint} — PyTorch says: "
                "mat1 and mat2 shapes cannot be multiplied ({rows}x{got} and {want}x{out})",
                want=m.in_features, got=got, hint=hint, rows=rows, out=m.out_features),
            msg("build it as nn.Linear({got}, {out}) — in_features must equal the flattened "
                "size — or change the input size so that {want} features arrive", got=got,
                out=m.out_features, want=m.in_features), features=(m.in_features, got))
    out = x.shape[:-1] + (m.out_features,)
    rows = math.prod(x.shape[:-1])
    macs = rows * m.in_features * m.out_features
    text = pexpl = ""
    if c.explain:
        text = msg("Linear {i}→{o}: each of the {rows} rows (N×{i}) is multiplied by a {o}×{i} "
                   "weight matrix → {shape}; MACs = {rows}·{i}·{o} = {macs}", i=m.in_features,
                   o=m.out_features, rows=_n(rows), shape=fmt_shape(out, True), macs=_n(macs))
        seed = getattr(m, "seed_in_features", None)
        if seed is not None and seed != m.in_features:
            where = ""
            if len(c.input_hw) == 2:
                where = msg(" because the input is {h}×{w}", h=c.input_hw[0], w=c.input_hw[1])
            if c.pre_flatten is not None and len(c.pre_flatten) > 2:
                where += msg(" ({dims} = {n} features at the flatten)",
                             dims="·".join(map(str, c.pre_flatten[1:])), n=m.in_features)
            text += msg(". Resized: the seed writes in_features = {seed}; vizapp made it "
                        "{n}{where} (switch off 'size fc1 to the input' to build it as the "
                        "seed wrote it)", seed=seed, n=m.in_features, where=where)
        b = m.out_features if m.bias is not None else 0
        pexpl = (f"in·out + out = {m.in_features}·{m.out_features} + {b} = "
                 f"{_n(m.in_features * m.out_features + b)}") if b else \
            f"in·out = {m.in_features}·{m.out_features} = {_n(m.in_features * m.out_features)}"
    attrs = (("in", m.in_features), ("out", m.out_features))
    if getattr(m, "seed_in_features", None) not in (None, m.in_features):
        attrs += (("seed_in", m.seed_in_features),)
    return OpResult(TMeta(out, x.dtype), "linear", "linear",
                    f"Linear {m.in_features}→{m.out_features}", macs, text, pexpl, attrs,
                    RFStep("flat"))


def batchnorm(c: Call) -> OpResult:
    m = c.target
    x = c.tensor()
    name = type(m).__name__
    if len(x.shape) < 2 or x.shape[1] != m.num_features:
        got = x.shape[1] if len(x.shape) > 1 else "?"
        raise ShapeError(msg("{name} expects {want} channels but gets {got} ({shape})",
                             name=name, want=m.num_features, got=got,
                             shape=fmt_shape(x.shape, True)),
                         msg("build it as {name}({got})", name=name, got=got), kind="channels")
    if name == "BatchNorm1d" and len(x.shape) not in (2, 3):
        raise ShapeError(msg("BatchNorm1d needs a 2-D or 3-D input, got {shape}",
                             shape=fmt_shape(x.shape, True)),
                         msg("use BatchNorm2d for N×C×H×W feature maps"))
    if name == "BatchNorm2d" and len(x.shape) != 4:
        raise ShapeError(msg("BatchNorm2d needs a 4-D input N×C×H×W, got {shape}",
                             shape=fmt_shape(x.shape, True)),
                         msg("use BatchNorm1d after a Linear layer"))
    C = m.num_features
    text = pexpl = ""
    if c.explain:
        over = "(N, H, W)" if len(x.shape) == 4 else "(N)" if len(x.shape) == 2 else "(N, L)"
        text = msg("{name}({C}): each of the {C} channels is normalised with its mean and "
                   "variance over {over}, then scaled by γ and shifted by β; shape unchanged "
                   "{shape}", name=name, C=C, over=over, shape=fmt_shape(x.shape))
        learn = 2 * C if m.affine else 0
        pexpl = (msg("2C = 2·{C} = {n} learnable (γ, β)", C=C, n=learn) if m.affine
                 else msg("no affine parameters"))
        if m.track_running_stats:
            pexpl += msg(" + 2C = {n} running buffers (mean, var; not trained)", n=2 * C)
    return OpResult(TMeta(x.shape, x.dtype), "batch_norm", "bn", f"{name}({C})",
                    0, text, pexpl, (("features", C),), RFStep("identity"))


_ACT_NAMES = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU6: "relu6",
              nn.GELU: "gelu", nn.SiLU: "silu", nn.Hardswish: "hardswish",
              nn.Hardsigmoid: "hardsigmoid", nn.LeakyReLU: "leaky_relu", nn.ELU: "elu",
              nn.Mish: "mish", nn.Softmax: "softmax", nn.LogSoftmax: "log_softmax",
              nn.PReLU: "prelu", nn.Softplus: "softplus"}


def elementwise(c: Call, op: str, kind: str, label: str, what: str) -> OpResult:
    x = c.tensor()
    text = ""
    if c.explain:
        text = msg("{what}; shape unchanged {shape}", what=what,
                   shape=fmt_shape(x.shape, len(x.shape) < 2))
    return OpResult(TMeta(x.shape, x.dtype), op, kind, label, 0, text,
                    msg("no parameters") if c.explain else "", (), RFStep("identity"))


def activation_module(c: Call) -> OpResult:
    m = c.target
    op = _ACT_NAMES.get(type(m), type(m).__name__.lower())
    return elementwise(c, op, "act", type(m).__name__,
                       msg("{name} applied to every element independently",
                           name=type(m).__name__))


def dropout_module(c: Call) -> OpResult:
    m = c.target
    return elementwise(c, "dropout", "dropout", f"Dropout p={m.p}",
                       msg("{name}(p={p}) zeroes elements at random in training and is the "
                           "identity in evaluation", name=type(m).__name__, p=m.p))


def identity_module(c: Call) -> OpResult:
    return elementwise(c, "identity", "other", "Identity",
                       msg("Identity passes the input through"))


def lrn_module(c: Call) -> OpResult:
    return elementwise(c, "local_response_norm", "norm", "LRN",
                       msg("LocalResponseNorm divides each value by a sum over neighbouring "
                           "channels"))


def flatten_shape(x: TMeta, start: int, end: int, explain: bool, name: str) -> OpResult:
    nd = len(x.shape)
    s = start % nd if nd else 0
    e = end % nd if nd else 0
    dims = x.shape[s:e + 1]
    flat = math.prod(dims)
    out = x.shape[:s] + (flat,) + x.shape[e + 1:]
    text = ""
    if explain:
        text = msg("{name} joins dims {s}…{e}: {product} = {n} → {shape}", name=name, s=s, e=e,
                   product="·".join(str(d) for d in dims), n=_n(flat),
                   shape=fmt_shape(out, True))
    return OpResult(TMeta(out, x.dtype), "flatten", "reshape", f"Flatten → {flat}", 0, text,
                    msg("no parameters") if explain else "", (), RFStep("flat"))


def flatten_module(c: Call) -> OpResult:
    m = c.target
    return flatten_shape(c.tensor(), m.start_dim, m.end_dim, c.explain, "Flatten")


MODULE_RULES: dict[type, Callable[[Call], OpResult]] = {
    nn.Conv2d: conv2d,
    nn.MaxPool2d: pool2d,
    nn.AvgPool2d: pool2d,
    nn.AdaptiveAvgPool2d: adaptive_pool,
    nn.AdaptiveMaxPool2d: adaptive_pool,
    nn.Linear: linear,
    nn.BatchNorm1d: batchnorm,
    nn.BatchNorm2d: batchnorm,
    nn.Flatten: flatten_module,
    nn.Dropout: dropout_module,
    nn.Dropout2d: dropout_module,
    nn.AlphaDropout: dropout_module,
    nn.Identity: identity_module,
    nn.LocalResponseNorm: lrn_module,
    nn.MultiheadAttention: attention,
    nn.MaxUnpool2d: max_unpool,
    nn.ConvTranspose2d: conv_transpose2d,
    nn.ZeroPad2d: pad_module,
    nn.ConstantPad2d: pad_module,
    nn.ReflectionPad2d: pad_module,
    nn.ReplicationPad2d: pad_module,
    **{t: activation_module for t in _ACT_NAMES},
}


# ----------------------------------------------------------------------------- function rules
def add_rule(c: Call) -> OpResult:
    a, b = (c.args + (None, None))[:2]
    if isinstance(a, TMeta) and isinstance(b, TMeta):
        if a.shape != b.shape:
            try:
                out = tuple(torch.broadcast_shapes(a.shape, b.shape))
            except RuntimeError:
                raise ShapeError(
                    msg("cannot add {a} and {b}: an addition (residual connection) needs equal "
                        "shapes", a=fmt_shape(a.shape), b=fmt_shape(b.shape)),
                    msg("make both branches output the same channels and size — e.g. a 1×1 "
                        "convolution with the same stride on the shortcut (use_1x1conv / "
                        "a projection) when the block changes channels or halves H×W"),
                    kind="join") from None
        else:
            out = a.shape
        text = ""
        if c.explain:
            text = msg("element-wise sum of two {shape} tensors (shapes must match) → {out}",
                       shape=fmt_shape(a.shape), out=fmt_shape(out))
            if c.shortcut is not None:
                text += "; " + c.shortcut.text()
                if c.shortcut.projection:
                    text += msg(", which makes its shape match the main path")
        return OpResult(TMeta(out, a.dtype), "add", "add", "+", 0, text,
                        msg("no parameters") if c.explain else "", (), RFStep("merge"), c.shortcut)
    raise NoRule()


def cat_rule(c: Call) -> OpResult:
    tensors = c.args[0] if c.args else c.kwargs.get("tensors")
    dim = c.args[1] if len(c.args) > 1 else c.kwargs.get("dim", 0)
    if not isinstance(tensors, (list, tuple)) or not all(isinstance(t, TMeta) for t in tensors):
        raise NoRule()
    nd = len(tensors[0].shape)
    d = dim % nd
    for t in tensors[1:]:
        if len(t.shape) != nd or any(t.shape[i] != tensors[0].shape[i]
                                     for i in range(nd) if i != d):
            shapes = ", ".join(fmt_shape(t.shape, True) for t in tensors)
            raise ShapeError(msg("cannot concatenate {shapes} along dim {d}: all other dims "
                                 "must be equal", shapes=shapes, d=d),
                             msg("give every branch the same H×W (same strides and padding) — "
                                 "padding k//2 keeps the size for odd kernels"),
                             spatial=False, kind="join")
    parts = [t.shape[d] for t in tensors]
    total = sum(parts)
    out = tensors[0].shape[:d] + (total,) + tensors[0].shape[d + 1:]
    text = ""
    if c.explain:
        what = msg("channels") if d == 1 else msg("dim {d}", d=d)
        text = msg("concatenate {n} tensors along {what}: {sum} = {total} → {shape}",
                   n=len(parts), what=what, sum=" + ".join(map(str, parts)), total=total,
                   shape=fmt_shape(out))
    return OpResult(TMeta(out, tensors[0].dtype), "cat", "concat", f"cat ({total})", 0, text,
                    msg("no parameters") if c.explain else "", (("dim", d), ("parts", tuple(parts))),
                    RFStep("merge"))


def torch_flatten_rule(c: Call) -> OpResult:
    x = c.tensor()
    start = c.args[1] if len(c.args) > 1 else c.kwargs.get("start_dim", 0)
    end = c.args[2] if len(c.args) > 2 else c.kwargs.get("end_dim", -1)
    return flatten_shape(x, start, end, c.explain, "flatten")


def reshape_rule(c: Call) -> OpResult:
    x = c.tensor()
    shape = c.args[1:]
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
        shape = tuple(shape[0])
    if not all(isinstance(s, int) for s in shape):
        raise NoRule()
    total = math.prod(x.shape)
    known = math.prod(s for s in shape if s != -1)
    if shape.count(-1) > 1 or (known and total % known) or (-1 not in shape and known != total):
        raise ShapeError(msg("cannot reshape {shape} ({n} elements) into {new}",
                             shape=fmt_shape(x.shape, True), n=_n(total), new=tuple(shape)),
                         msg("the new shape must hold the same number of elements"),
                         kind="reshape")
    out = tuple(total // known if s == -1 else s for s in shape)
    text = ""
    if c.explain:
        text = msg("{target}{new}: {shape} = {n} elements → {out}", target=c.target,
                   new=tuple(shape), shape=fmt_shape(x.shape, True), n=_n(total),
                   out=fmt_shape(out, True))
        if len(out) == 2 and len(x.shape) > 2:
            text += " (" + "·".join(str(d) for d in x.shape[1:]) + f" = {_n(out[1])})"
    return OpResult(TMeta(out, x.dtype), "reshape", "reshape", f"reshape → {fmt_shape(out)}", 0,
                    text, msg("no parameters") if c.explain else "", (), RFStep("flat"))


_ACT_LABELS = {"relu": "ReLU", "relu6": "ReLU6", "sigmoid": "Sigmoid", "tanh": "Tanh",
               "gelu": "GELU", "silu": "SiLU", "hardswish": "Hardswish",
               "hardsigmoid": "Hardsigmoid"}


def functional_act(name: str) -> Callable[[Call], OpResult]:
    label = _ACT_LABELS.get(name, name)

    def rule(c: Call) -> OpResult:
        return elementwise(c, name, "act", label,
                           msg("{name} (functional) applied to every element independently",
                               name=label))
    return rule


def f_pool(is_max: bool) -> Callable[[Call], OpResult]:
    def rule(c: Call) -> OpResult:
        k = c.args[1] if len(c.args) > 1 else c.kwargs.get("kernel_size")
        s = c.args[2] if len(c.args) > 2 else c.kwargs.get("stride")
        p = c.args[3] if len(c.args) > 3 else c.kwargs.get("padding", 0)
        if is_max:
            d = c.args[4] if len(c.args) > 4 else c.kwargs.get("dilation", 1)
            ceil = c.args[5] if len(c.args) > 5 else c.kwargs.get("ceil_mode", False)
        else:
            d = 1
            ceil = c.args[4] if len(c.args) > 4 else c.kwargs.get("ceil_mode", False)
        if s is None or s == [] or s == ():
            s = k
        fake = (nn.MaxPool2d(k, s, p, d, ceil_mode=bool(ceil)) if is_max
                else nn.AvgPool2d(k, s, p, ceil_mode=bool(ceil)))
        return pool2d(Call("module", fake, c.args[:1], {}, c.name, c.explain, c.from_input))
    return rule


def f_adaptive(is_max: bool) -> Callable[[Call], OpResult]:
    def rule(c: Call) -> OpResult:
        size = c.args[1] if len(c.args) > 1 else c.kwargs.get("output_size")
        return adaptive_pool(c, size, is_max)
    return rule


def mean_rule(c: Call) -> OpResult:
    x = c.tensor()
    dims = c.args[1] if len(c.args) > 1 else c.kwargs.get("dim")
    keep = c.args[2] if len(c.args) > 2 else c.kwargs.get("keepdim", False)
    if dims is None:
        raise NoRule()
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    nd = len(x.shape)
    ds = {d % nd for d in dims}
    out = tuple((1 if i in ds else s) for i, s in enumerate(x.shape) if keep or i not in ds)
    text = msg("mean over dims {dims} → {out}", dims=sorted(ds),
               out=fmt_shape(out, True)) if c.explain else ""
    spatial = ds == {2, 3} and nd == 4
    return OpResult(TMeta(out, x.dtype), "mean", "pool", "mean", 0, text, "", (),
                    RFStep("window", (x.shape[2], x.shape[3]), (1, 1), (0, 0)) if spatial and keep
                    else RFStep("flat"))


def dropout_fn(c: Call) -> OpResult:
    return elementwise(c, "dropout", "dropout", "dropout",
                       msg("dropout is the identity in evaluation"))


FUNCTION_RULES: dict[Any, Callable[[Call], OpResult]] = {
    operator.add: add_rule,
    operator.iadd: add_rule,
    torch.add: add_rule,
    torch.cat: cat_rule,
    torch.concat: cat_rule,
    torch.flatten: torch_flatten_rule,
    F.relu: functional_act("relu"),
    torch.relu: functional_act("relu"),
    F.relu6: functional_act("relu6"),
    torch.sigmoid: functional_act("sigmoid"),
    F.sigmoid: functional_act("sigmoid"),
    torch.tanh: functional_act("tanh"),
    F.gelu: functional_act("gelu"),
    F.silu: functional_act("silu"),
    F.hardswish: functional_act("hardswish"),
    F.hardsigmoid: functional_act("hardsigmoid"),
    F.max_pool2d: f_pool(True),
    F.avg_pool2d: f_pool(False),
    F.adaptive_avg_pool2d: f_adaptive(False),
    F.adaptive_max_pool2d: f_adaptive(True),
    F.dropout: dropout_fn,
    F.pad: f_pad,
    torch.mean: mean_rule,
}

METHOD_RULES: dict[str, Callable[[Call], OpResult]] = {
    "view": reshape_rule,
    "reshape": reshape_rule,
    "flatten": lambda c: flatten_shape(c.tensor(), c.args[1] if len(c.args) > 1 else
                                       c.kwargs.get("start_dim", 0),
                                       c.args[2] if len(c.args) > 2 else c.kwargs.get("end_dim", -1),
                                       c.explain, "flatten"),
    "add": add_rule,
    "add_": add_rule,
    "relu": functional_act("relu"),
    "relu_": functional_act("relu"),
    "sigmoid": functional_act("sigmoid"),
    "mean": mean_rule,
}


def is_add(c: Call) -> bool:
    """A tensor addition (``+``, ``+=``, ``torch.add``, ``x.add``): a residual candidate."""
    if c.call_type == "method":
        return c.target in ("add", "add_")
    return c.call_type == "function" and c.target in (operator.add, operator.iadd, torch.add)


def find_rule(c: Call) -> Callable[[Call], OpResult] | None:
    if c.call_type == "module":
        t = type(c.target)
        r = MODULE_RULES.get(t)
        if r is None:
            for base, rule in MODULE_RULES.items():
                if isinstance(c.target, base) and base.forward is t.forward:
                    return rule
        return r
    if c.call_type == "function":
        try:
            return FUNCTION_RULES.get(c.target)
        except TypeError:
            return None
    if c.call_type == "method":
        return METHOD_RULES.get(c.target)
    return None
