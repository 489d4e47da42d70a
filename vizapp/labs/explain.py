"""Look inside a layer: the arithmetic of one output value, on real numbers.

``explain(model, layer, x, at)`` runs **one partial forward pass** — a forward hook on the
chosen module captures its input and output, hooks on the layers that follow it in the block
(BatchNorm, activation) capture theirs, and the last of them raises a private exception, so
nothing after them runs — and returns a frozen :class:`Breakdown` (numbers in fields, no
sentences):

- ``Conv2d``: the input window of every input channel of the output channel's group (padding
  as the zeros it is, stride and dilation in the window's ``rows``/``cols``), the kernel
  weights, the element-wise products, their sum per channel and in total, the bias, the result
  and the layer's real output at that position (``forward_output``);
- ``MaxPool2d``/``AvgPool2d``/adaptive pools: the window, the picked value (max) or the sum and
  divisor (average);
- ``Linear``: the flattened input (with the C×H×W position each index came from when the
  analysis knows the shape before the flatten), the weight row, the products, the bias;
- BatchNorm / activations: the formula on the one value;
- a block that ends in an addition or a concatenation (a residual block, an Inception block,
  a dense block): which inputs the value came from (the block is traced by torch.fx and run on
  its captured input).

``then``: what follows a convolution/linear in the block (BN with the layer's running numbers,
the activation), each with the value it computes and the real forward's value. ``rf_box``:
the output pixel's receptive field on the input, from the analysis (size, jump, start),
clipped to the image. Nothing here imports Streamlit.
"""

from __future__ import annotations

import copy
import math
import operator
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from vizapp.i18n import msg

Grid = tuple[tuple[float, ...], ...]
ELEMENTWISE = ("ReLU", "ReLU6", "Sigmoid", "Tanh", "LeakyReLU", "GELU", "SiLU", "ELU",
               "Hardswish", "Hardsigmoid", "Mish", "Softplus", "Identity", "Dropout")
POOLS = ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")


class ExplainError(ValueError):
    """A breakdown that cannot be given (no such layer or position, a kind of layer this pass
    does not take apart); the message names the cause and the fix."""


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class ChannelTerm:
    """One input channel's share of a convolution output (or one pooling window)."""

    in_channel: int
    window: Grid  # the input values under the kernel (0 at zero padding)
    padded: tuple[tuple[bool, ...], ...]  # True where the window lies outside the input
    weights: Grid  # the kernel slice for this input channel (empty for pooling)
    products: Grid  # window × weights, element-wise (empty for pooling)
    sum: float  # sum of the products (pooling: sum of the window)


@dataclass(frozen=True)
class Step:
    """An element-wise layer applied to the value: BatchNorm or an activation."""

    name: str  # module path, or the function's name ("relu") inside ``block``
    op: str  # "BatchNorm2d", "ReLU", "relu", "Sigmoid" …
    input: float
    output: float  # computed here from ``input``
    forward_output: float | None  # the real forward's value at this position (None: not hooked)
    params: tuple[tuple[str, float], ...] = ()  # BN: mean, var, eps, gamma, beta


@dataclass(frozen=True)
class Source:
    """One input of the addition / concatenation a block's value came from."""

    node: str  # the fx node's name inside the block ("relu_1", "p2_2")
    module: str  # the module that produced it (path), "" for the block's own input
    channel: int  # the channel read from it
    value: float  # its value at the position


@dataclass(frozen=True)
class Breakdown:
    layer: str
    type: str  # module class name
    kind: str  # "conv", "pool", "linear", "elementwise", "add", "cat"
    at: tuple[int, ...]  # (c, h, w) or (f,) for a flat output
    input_shape: tuple[int, ...]  # the layer's input (N, C, H, W) or (N, F)
    output_shape: tuple[int, ...]
    output: float  # the value computed from the parts below
    forward_output: float  # the layer's real output at ``at``
    total: float = 0.0  # sum of the products over every channel (conv, linear) or the window sum
    bias: float | None = None
    terms: tuple[ChannelTerm, ...] = ()
    rows: tuple[int, ...] = ()  # input rows of the window (negative / ≥ H: padding)
    cols: tuple[int, ...] = ()
    kernel: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    pool: str = ""  # "max" / "avg"
    picked: tuple[int, int] | None = None  # max pooling: input (row, col) of the maximum
    divisor: int = 0  # average pooling: what the window sum is divided by
    vector: tuple[float, ...] = ()  # linear: the flattened input
    weights: tuple[float, ...] = ()  # linear: the weight row
    origins: tuple[tuple[int, ...], ...] = ()  # linear: the (c, h, w) each index came from
    sources: tuple[Source, ...] = ()  # add / cat
    then: tuple[Step, ...] = ()  # what follows in the block
    rf_box: tuple[int, int, int, int] | None = None  # (top, left, bottom, right), inclusive
    rf_size: tuple[int, int] | None = None
    formula: tuple[tuple[str, float], ...] = ()  # elementwise: BN's numbers
    # the output plane the value lies in (channel ``at[0]``, float32 H×W; 1×F when flat)
    plane: np.ndarray | None = field(default=None, compare=False, repr=False)
    # conv / pool: the layer input's plane of the first channel in the window (float32 H×W)
    input_plane: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def error(self) -> float:
        """|computed − real forward|."""
        return abs(self.output - self.forward_output)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data (without the plane)."""
        d = asdict(self)
        d.pop("plane", None)
        d.pop("input_plane", None)
        return d


# ----------------------------------------------------------------------------- capture
class _Stop(Exception):
    pass


@dataclass
class _Captured:
    inputs: tuple[Any, ...]
    output: torch.Tensor
    after: dict[str, torch.Tensor]


def _first_tensor(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return next((o for o in v if isinstance(o, torch.Tensor)), None)
    return v


def partial_forward(model: nn.Module, layer: str, x: torch.Tensor,
                    follow: Sequence[str] = ()) -> _Captured:
    """Run ``model`` on ``x`` (no grad, the model as it is — eval mode is the caller's) only
    until ``layer`` and the modules ``follow`` have run: their hooks capture the layer's input
    and output and the followers' outputs, and the last one stops the pass."""
    mods = dict(model.named_modules())
    if layer not in mods:
        close = [n for n in mods if n and layer and layer in n][:8]
        raise ExplainError(msg("no layer named '{layer}'. Close: {names}.", layer=layer,
                               names=", ".join(close)) if close else
                           msg("no layer named '{layer}'; `vizapp table PRESET` lists the "
                               "layers.", layer=layer))
    got: dict[str, Any] = {"after": {}}
    last = follow[-1] if follow else layer

    def hook_of(name: str):
        def hook(_m: nn.Module, args: Any, out: Any) -> None:
            if name == layer and "out" not in got:
                got["in"], got["out"] = args, _first_tensor(out)
            elif name != layer and "out" in got:
                got["after"].setdefault(name, _first_tensor(out))
            if name == last and "out" in got:
                raise _Stop
        return hook

    handles = [mods[n].register_forward_hook(hook_of(n)) for n in {layer, *follow} if n in mods]
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        with torch.no_grad():
            model(x.to(device))
    except _Stop:
        pass
    except Exception as exc:  # noqa: BLE001 - the input does not fit the model
        raise ExplainError(msg("the model cannot run input {shape}: {exc}. Fix: use the input "
                               "size the model expects.", shape=tuple(x.shape),
                               exc=str(exc)[:200])) from None
    finally:
        for h in handles:
            h.remove()
    if "out" not in got or not isinstance(got["out"], torch.Tensor):
        raise ExplainError(msg("layer '{layer}' did not run in the forward pass (or returned "
                               "no tensor); pick another layer", layer=layer))
    return _Captured(tuple(got["in"]), got["out"].detach(), got["after"])


# ----------------------------------------------------------------------------- positions
def parse_at(text: str) -> tuple[int, ...]:
    """``"3,4,5"`` → ``(3, 4, 5)``; one to three integers."""
    try:
        at = tuple(int(p) for p in str(text).replace(" ", "").split(","))
    except ValueError:
        raise ExplainError(msg("position '{at}' is not C,H,W integers (e.g. 0,4,5; a flat "
                               "layer's output takes one index)", at=text)) from None
    if not 1 <= len(at) <= 3:
        raise ExplainError(msg("position '{at}' is not C,H,W integers (e.g. 0,4,5; a flat "
                               "layer's output takes one index)", at=text))
    return at


def _index(out_shape: Sequence[int], at: Sequence[int]) -> tuple[int, ...]:
    """``at`` checked against the output shape (batch left out) → the full tensor index."""
    dims = tuple(out_shape[1:])
    if len(at) != len(dims) or any(not 0 <= a < d for a, d in zip(at, dims)):
        bounds = ", ".join(f"0…{d - 1}" for d in dims)
        raise ExplainError(msg("position {at} is not in the layer's output {shape}: give "
                               "{n} index(es) within {bounds}", at=tuple(at), shape=dims,
                               n=len(dims), bounds=bounds))
    return (0, *at)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[-1]))


def _grid(a: np.ndarray) -> Grid:
    return tuple(tuple(float(v) for v in row) for row in a)


def _window_index(size: int, start: int, k: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Input coordinates of a window and whether each lies inside ``0…size-1``."""
    pos = start + d * np.arange(k)
    return pos, (pos >= 0) & (pos < size)


# ----------------------------------------------------------------------------- convolution
def _conv_padding(m: nn.Conv2d) -> tuple[int, int]:
    """Top and left padding (``padding='same'`` puts the odd one on the bottom/right)."""
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return 0, 0
        k, d = _pair(m.kernel_size), _pair(m.dilation)
        return (d[0] * (k[0] - 1)) // 2, (d[1] * (k[1] - 1)) // 2
    return _pair(m.padding)


def _conv(m: nn.Conv2d, x: torch.Tensor, idx: tuple[int, ...]) -> dict[str, Any]:
    """The conv arithmetic of output ``idx`` = (0, c, h, w)."""
    _, c, h, w = idx
    (kh, kw), (sh, sw), (dh, dw) = _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)
    ph, pw = _conv_padding(m)
    H, W = x.shape[-2:]
    rows, rin = _window_index(H, h * sh - ph, kh, dh)
    cols, cin = _window_index(W, w * sw - pw, kw, dw)
    inside = rin[:, None] & cin[None, :]
    src = x[0].double().cpu().numpy()
    if m.padding_mode != "zeros":  # reflect / replicate / circular: pad as the layer does
        src = F.pad(x.double().cpu(), (pw, pw, ph, ph), mode=m.padding_mode)[0].numpy()
        rows_i, cols_i = rows + ph, cols + pw
    else:
        rows_i, cols_i = np.clip(rows, 0, H - 1), np.clip(cols, 0, W - 1)
    per_group = m.in_channels // m.groups
    g = c // (m.out_channels // m.groups)
    weight = m.weight.detach()[c].double().cpu().numpy()
    terms = []
    for j in range(per_group):
        ci = g * per_group + j
        win = src[ci][np.ix_(rows_i, cols_i)]
        if m.padding_mode == "zeros":
            win = np.where(inside, win, 0.0)
        prod = win * weight[j]
        terms.append(ChannelTerm(ci, _grid(win), tuple(tuple(bool(not v) for v in r)
                                                       for r in inside), _grid(weight[j]),
                                 _grid(prod), float(prod.sum())))
    total = float(sum(t.sum for t in terms))
    bias = None if m.bias is None else float(m.bias.detach()[c])
    return dict(kind="conv", terms=tuple(terms), total=total, bias=bias,
                output=total + (bias or 0.0), rows=tuple(int(r) for r in rows),
                cols=tuple(int(v) for v in cols), kernel=(kh, kw), stride=(sh, sw),
                padding=(ph, pw), dilation=(dh, dw), groups=m.groups)


# ----------------------------------------------------------------------------- pooling
def _pool_geometry(m: nn.Module, H: int, W: int, h: int, w: int, out_hw: tuple[int, int]):
    """(rows, cols, kernel, stride, padding, dilation) of one pooling window."""
    if type(m).__name__.startswith("Adaptive"):
        oh, ow = out_hw
        r0, r1 = (h * H) // oh, -(-((h + 1) * H) // oh)
        c0, c1 = (w * W) // ow, -(-((w + 1) * W) // ow)
        return (np.arange(r0, r1), np.arange(c0, c1), (r1 - r0, c1 - c0), (1, 1), (0, 0),
                (1, 1))
    k, s = _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size)
    p, d = _pair(m.padding), _pair(getattr(m, "dilation", 1))
    rows = h * s[0] - p[0] + d[0] * np.arange(k[0])
    cols = w * s[1] - p[1] + d[1] * np.arange(k[1])
    return rows, cols, k, s, p, d


def _avg_divisor(m: nn.Module, H: int, W: int, rows: np.ndarray, cols: np.ndarray,
                 inside: np.ndarray) -> int:
    """What ``AvgPool2d`` divides the window sum by: the override, the window clipped to the
    padded input (count_include_pad) or the input cells only."""
    if getattr(m, "divisor_override", None):
        return int(m.divisor_override)
    if type(m).__name__.startswith("Adaptive") or not m.count_include_pad:
        return int(inside.sum())
    p = _pair(m.padding)
    nr = int(((rows >= -p[0]) & (rows < H + p[0])).sum())
    nc = int(((cols >= -p[1]) & (cols < W + p[1])).sum())
    return nr * nc


def _pool(m: nn.Module, x: torch.Tensor, idx: tuple[int, ...], out_hw: tuple[int, int]
          ) -> dict[str, Any]:
    _, c, h, w = idx
    H, W = x.shape[-2:]
    rows, cols, k, s, p, d = _pool_geometry(m, H, W, h, w, out_hw)
    inside = ((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < W))[None, :]
    src = x[0, c].double().cpu().numpy()
    win = np.where(inside, src[np.ix_(np.clip(rows, 0, H - 1), np.clip(cols, 0, W - 1))], 0.0)
    term = ChannelTerm(c, _grid(win), tuple(tuple(bool(not v) for v in r) for r in inside),
                       (), (), float(win[inside].sum()))
    geo = dict(kind="pool", terms=(term,), rows=tuple(int(r) for r in rows),
               cols=tuple(int(v) for v in cols), kernel=k, stride=s, padding=p, dilation=d,
               total=term.sum)
    if "Max" in type(m).__name__:
        masked = np.where(inside, win, -np.inf)
        i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
        return dict(geo, pool="max", picked=(int(rows[i]), int(cols[j])),
                    output=float(masked[i, j]))
    div = _avg_divisor(m, H, W, rows, cols, inside)
    return dict(geo, pool="avg", divisor=div, output=term.sum / div)


# ----------------------------------------------------------------------------- linear
def _linear(m: nn.Linear, x: torch.Tensor, idx: tuple[int, ...],
            before: Sequence[int] | None) -> dict[str, Any]:
    f = idx[-1]
    if x.dim() != 2:
        raise ExplainError(msg("this Linear takes a {n}-D input; only a flat (N, F) input is "
                               "taken apart here. Pick a convolution or pooling layer.",
                               n=x.dim()))
    vec = x[0].double().cpu().numpy()
    wrow = m.weight.detach()[f].double().cpu().numpy()
    total = float((vec * wrow).sum())
    bias = None if m.bias is None else float(m.bias.detach()[f])
    origins: tuple[tuple[int, ...], ...] = ()
    if before and math.prod(before) == vec.size and len(before) > 1:
        origins = tuple(tuple(int(v) for v in np.unravel_index(i, tuple(before)))
                        for i in range(vec.size))
    return dict(kind="linear", vector=tuple(float(v) for v in vec),
                weights=tuple(float(v) for v in wrow), origins=origins, total=total,
                bias=bias, output=total + (bias or 0.0))


# ----------------------------------------------------------------------------- element-wise
def bn_numbers(m: _BatchNorm, c: int) -> tuple[tuple[str, float], ...]:
    """The eval-mode numbers of channel ``c``: running mean and variance, ε, γ, β."""
    mean = float(m.running_mean[c]) if m.running_mean is not None else 0.0
    var = float(m.running_var[c]) if m.running_var is not None else 1.0
    gamma = float(m.weight.detach()[c]) if m.weight is not None else 1.0
    beta = float(m.bias.detach()[c]) if m.bias is not None else 0.0
    return (("mean", mean), ("var", var), ("eps", float(m.eps)), ("gamma", gamma),
            ("beta", beta))


def apply_bn(v: float, numbers: Sequence[tuple[str, float]]) -> float:
    """``(v − μ)/√(σ² + ε)·γ + β``."""
    n = dict(numbers)
    return (v - n["mean"]) / math.sqrt(n["var"] + n["eps"]) * n["gamma"] + n["beta"]


def _apply(fn: Any, v: float) -> float:
    with torch.no_grad():
        return float(fn(torch.tensor([v], dtype=torch.float64)))


def _activation_fn(module: nn.Module | None, op: str) -> Any:
    """A callable for an activation module or function name; None when there is none. A
    module's own ``forward`` (no hooks run; the model is in eval mode here); one with
    parameters (PReLU) on a float64 copy."""
    if module is not None:
        if any(True for _ in module.parameters()):
            module = copy.deepcopy(module).double().eval()
        return module.forward
    return getattr(torch, op, None) or getattr(F, op, None)


def step_of(model: nn.Module, name: str, op: str, c: int, v: float,
            forward: float | None) -> Step | None:
    """The element-wise ``op`` (a module path ``name`` or a function) applied to ``v``."""
    mods = dict(model.named_modules())
    module = mods.get(name) if op[:1].isupper() else None
    if isinstance(module, _BatchNorm):
        nums = bn_numbers(module, c)
        return Step(name, op, v, apply_bn(v, nums), forward, nums)
    fn = _activation_fn(module, op)
    if fn is None or (module is not None and type(module).__name__ not in ELEMENTWISE):
        return None
    return Step(name, op, v, _apply(fn, v), forward)


def _elementwise(m: nn.Module, x: torch.Tensor, idx: tuple[int, ...]) -> dict[str, Any]:
    v = float(x[idx].double())
    c = idx[1] if len(idx) > 1 else 0
    if isinstance(m, _BatchNorm):
        nums = bn_numbers(m, c)
        return dict(kind="elementwise", total=v, formula=nums, output=apply_bn(v, nums))
    return dict(kind="elementwise", total=v, output=_apply(_activation_fn(m, type(m).__name__), v))


# ----------------------------------------------------------------------------- add / cat
_ADDS = (operator.add, operator.iadd, torch.add)
_CATS = (torch.cat, torch.concat)


def _is_elementwise(n: torch.fx.Node, mods: dict[str, nn.Module]) -> bool:
    if n.op == "call_module":
        return type(mods.get(str(n.target))).__name__ in ELEMENTWISE
    name = getattr(n.target, "__name__", str(n.target))
    return n.op in ("call_function", "call_method") and name in (
        "relu", "relu_", "sigmoid", "tanh", "gelu", "silu", "leaky_relu", "relu6", "hardswish")


def _producer(n: Any, mods: dict[str, nn.Module], block: str) -> str:
    """The module (path) that produced node ``n``: up a chain of one-input functions."""
    while isinstance(n, torch.fx.Node):
        if n.op == "call_module":
            return f"{block}.{n.target}" if block else str(n.target)
        if n.op == "placeholder" or not n.args:
            return ""
        n = n.args[0]
    return ""


def _run_block(block: nn.Module, inputs: tuple[Any, ...]
               ) -> tuple[torch.fx.GraphModule, dict[str, Any]]:
    """The block traced by torch.fx and run on its captured inputs: every node's value (a copy
    taken when it is made, so an in-place ``+=`` later does not change it)."""
    try:
        gm = torch.fx.symbolic_trace(block)
    except Exception as exc:  # noqa: BLE001 - data-dependent control flow and the like
        raise ExplainError(msg("this block cannot be traced to see what it adds or "
                               "concatenates ({error}); pick a layer inside it",
                               error=type(exc).__name__)) from None
    env: dict[str, Any] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> Any:
            r = super().run_node(n)
            env[n.name] = r.clone() if isinstance(r, torch.Tensor) else r
            return r

    with torch.no_grad():
        Recorder(gm).run(*inputs)
    return gm, env


def _cat_source(node: torch.fx.Node, env: dict[str, Any], mods: dict[str, nn.Module],
                path: str, idx: tuple[int, ...]) -> Source:
    """The input of a channel concatenation that channel ``idx[1]`` comes from, followed down
    through earlier concatenations (a dense block concatenates again and again)."""
    c = idx[1]
    while getattr(node, "target", None) in _CATS:
        offset = 0
        for p in node.args[0]:
            n_ch = env[p.name].shape[1]
            if c < offset + n_ch:
                node, c = p, c - offset
                break
            offset += n_ch
    return Source(node.name, _producer(node, mods, path), c,
                  float(env[node.name][(0, c, *idx[2:])]))


def _join(block: nn.Module, path: str, inputs: tuple[Any, ...], idx: tuple[int, ...]
          ) -> dict[str, Any]:
    """Which inputs of the block's final addition / concatenation the value came from, and
    the element-wise layers after it (a residual block's ReLU)."""
    gm, env = _run_block(block, inputs)
    mods = dict(gm.named_modules())
    node = _first_tensor(next(n for n in gm.graph.nodes if n.op == "output").args[0])
    trailing: list[torch.fx.Node] = []
    while isinstance(node, torch.fx.Node) and _is_elementwise(node, mods):
        trailing.insert(0, node)
        node = node.args[0]
    target = getattr(node, "target", None)
    if target in _CATS:
        src = _cat_source(node, env, mods, path, idx)
        kind, sources, value = "cat", (src,), src.value
    elif target in _ADDS or (node is not None and getattr(node, "op", "") == "call_method"
                             and target in ("add", "add_")):
        sources = tuple(Source(a.name, _producer(a, mods, path), idx[1], float(env[a.name][idx]))
                        for a in node.args[:2] if isinstance(a, torch.fx.Node))
        kind, value = "add", float(sum(s.value for s in sources))
    else:
        raise ExplainError(msg("'{layer}' ({type}) does not end in an addition or a "
                               "concatenation; pick a convolution, pooling or linear layer "
                               "inside it", layer=path, type=type(block).__name__))
    then = []
    for t in trailing:
        name = f"{path}.{t.target}" if t.op == "call_module" else t.name
        op = type(mods[str(t.target)]).__name__ if t.op == "call_module" else \
            getattr(t.target, "__name__", str(t.target))
        fn = _activation_fn(mods.get(str(t.target)) if t.op == "call_module" else None, op)
        out = _apply(fn, value)
        then.append(Step(name, op, value, out, float(env[t.name][idx])))
        value = out
    return dict(kind=kind, sources=sources, total=float(sum(s.value for s in sources)),
                output=value, then=tuple(then))


# ----------------------------------------------------------------------------- from the analysis
def _leaf_node(analysis: Any, layer: str) -> Any:
    return next((n for n in analysis.nodes if n.module_path == layer
                 and n.module_type[:1].isupper()), None)


def followers(analysis: Any, layer: str) -> tuple[tuple[str, str], ...]:
    """``(name, op)`` of the element-wise layers that follow ``layer`` alone (BN, activation,
    dropout), from the analysis: a module's path and class name, or a function's node id and
    op ("relu")."""
    node = _leaf_node(analysis, layer) if analysis is not None else None
    if node is None:
        return ()
    cons, index, out = analysis.consumers(), analysis.node_index(), []
    while len(cons.get(node.id, ())) == 1:
        node = index[cons[node.id][0]]
        if node.category not in ("bn", "act", "dropout"):
            break
        module = node.module_type[:1].isupper()
        out.append((node.module_path, node.module_type) if module else (node.id, node.op))
    return tuple(out)


def flat_origin(analysis: Any, layer: str) -> tuple[int, ...] | None:
    """The (C, H, W) shape a Linear's flat input was flattened from, when the analysis shows
    a flatten/reshape (through dropout) right before it."""
    node = _leaf_node(analysis, layer) if analysis is not None else None
    if node is None or not node.inputs:
        return None
    index, shape = analysis.node_index(), None
    prev = index.get(node.inputs[0])
    while prev is not None and prev.category in ("reshape", "dropout") and prev.inputs:
        if prev.category == "reshape" and prev.input_shapes:
            shape = tuple(prev.input_shapes[0][1:])
        prev = index.get(prev.inputs[0])
    return shape


def _block_input(analysis: Any, layer: str) -> str:
    """The module path of the node that feeds block ``layer`` (for its receptive field)."""
    if analysis is None or layer not in analysis.block_index():
        return ""
    ins = analysis.block(layer).inputs
    node = analysis.node_index().get(ins[0]) if ins else None
    return node.module_path if node is not None and node.module_type[:1].isupper() else ""


def rf_box(analysis: Any, layer: str, hw: tuple[int, int]
           ) -> tuple[tuple[int, int, int, int], tuple[int, int]] | None:
    """((top, left, bottom, right), size) of output pixel ``hw``'s receptive field on the
    input (inclusive, clipped to the image), from the analysis' size, jump and start."""
    if analysis is None:
        return None
    node = _leaf_node(analysis, layer)
    rf = node.rf if node is not None else getattr(analysis.block_index().get(layer), "rf", None)
    if rf is None:
        return None
    H, W = analysis.input_shape[-2:]
    box = []
    for axis, (pos, size) in enumerate(zip(hw, (H, W))):
        centre = rf.start[axis] + pos * rf.jump[axis]
        half = (rf.size[axis] - 1) / 2
        box.append((max(0, math.ceil(centre - half - 1e-9)),
                    min(size - 1, math.floor(centre + half + 1e-9))))
    (top, bottom), (left, right) = box
    return (top, left, bottom, right), tuple(rf.size)


# ----------------------------------------------------------------------------- the pass
def kind_of(m: nn.Module) -> str:
    """How a module is taken apart: "conv", "pool", "linear", "elementwise", "block", or ""."""
    t = type(m).__name__
    if t == "Conv2d":
        return "conv"
    if t in POOLS:
        return "pool"
    if t == "Linear":
        return "linear"
    if isinstance(m, _BatchNorm) or t in ELEMENTWISE:
        return "elementwise"
    return "block" if any(True for _ in m.children()) else ""


def _then(model: nn.Module, follow: Sequence[tuple[str, str]], cap: _Captured,
          idx: tuple[int, ...], value: float) -> tuple[Step, ...]:
    steps = []
    for name, op in follow:
        got = cap.after.get(name)
        fwd = float(got[idx]) if isinstance(got, torch.Tensor) and got.dim() == len(idx) \
            else None
        s = step_of(model, name, op, idx[1] if len(idx) > 1 else 0, value, fwd)
        if s is None:
            break
        steps.append(s)
        value = s.output
    return tuple(steps)


def explain(model: nn.Module, layer: str, x: torch.Tensor, at: Sequence[int], *,
            analysis: Any = None, private: bool = False) -> Breakdown:
    """The breakdown of ``layer``'s output at ``at`` = (c, h, w) (or (f,)) for input ``x``.

    One partial forward pass in eval mode, on a deep copy of ``model`` unless ``private``
    (the caller's own copy, hooked and set to eval here). ``analysis`` (of ``x``'s shape)
    adds what follows the layer, a Linear's C×H×W origins and the receptive-field box."""
    work = model if private else copy.deepcopy(model)
    work.eval()
    m = dict(work.named_modules()).get(layer)
    kind = kind_of(m) if m is not None else "conv"
    if m is not None and not kind:
        raise ExplainError(msg("'{layer}' ({type}) cannot be taken apart: pick a Conv2d, "
                               "pooling, Linear, BatchNorm or activation layer, or a block "
                               "ending in + or cat", layer=layer, type=type(m).__name__))
    follow = followers(analysis, layer) if kind in ("conv", "linear") else ()
    cap = partial_forward(work, layer, x, [n for n, op in follow if op[:1].isupper()])
    idx = _index(cap.output.shape, at)
    xin = cap.inputs[0] if cap.inputs else None
    if kind == "conv":
        parts = _conv(m, xin, idx)
    elif kind == "pool":
        parts = _pool(m, xin, idx, tuple(cap.output.shape[-2:]))
    elif kind == "linear":
        parts = _linear(m, xin, idx, flat_origin(analysis, layer))
    elif kind == "elementwise":
        parts = _elementwise(m, xin, idx)
    else:
        parts = _join(m, layer, cap.inputs, idx)
    if follow:
        parts["then"] = _then(work, follow, cap, idx, parts["output"])
    rf_of = layer
    if parts["kind"] == "cat":  # the receptive field of the branch the channel came from
        rf_of = parts["sources"][0].module or _block_input(analysis, layer)
    rf = rf_box(analysis, rf_of, idx[-2:]) if len(idx) == 4 and rf_of else None
    if kind in ("conv", "pool"):
        parts["input_plane"] = xin[0, parts["terms"][0].in_channel].detach().float().cpu().numpy()
    return Breakdown(layer=layer, type=type(m).__name__, at=tuple(int(a) for a in at),
                     input_shape=tuple(xin.shape) if isinstance(xin, torch.Tensor) else (),
                     output_shape=tuple(cap.output.shape),
                     forward_output=float(cap.output[idx]), rf_box=rf[0] if rf else None,
                     rf_size=rf[1] if rf else None, plane=_plane(cap.output, idx), **parts)


def _plane(out: torch.Tensor, idx: tuple[int, ...]) -> np.ndarray:
    """The output plane holding ``idx``: channel ``idx[1]`` of an image, the row of a flat."""
    y = out.detach()[0].float().cpu()
    return (y[idx[1]] if y.dim() == 3 else y.reshape(1, -1)).numpy()


def probabilities(model: nn.Module, x: torch.Tensor) -> tuple[float, ...]:
    """Softmax of the model's output for the first sample (eval mode, on a deep copy)."""
    work = copy.deepcopy(model).eval()
    device = next((p.device for p in work.parameters()), torch.device("cpu"))
    with torch.no_grad():
        out = _first_tensor(work(x.to(device)))
    return tuple(float(p) for p in torch.softmax(out[0].float().flatten(), 0).cpu())
