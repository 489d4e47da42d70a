"""Block stories: the worked arithmetic of a whole block, built from the fields of its nodes
(never from another sentence) — what the block does to channels and H×W, and the
pattern-specific sums: dense growth ``c₀ + L·k``, Inception branch sums, residual shortcuts
(identity or projection, per unit), the bottleneck's ×4 expansion, transitions, and what
shrinks H×W in a stem."""

from __future__ import annotations

from vizapp.fmt import count, hw_text, shape_text
from vizapp.i18n import join, msg

from .records import Node, Shape


def _attrs(n: Node) -> dict:
    return dict(n.attrs)


def block_story(btype: str, nodes: list[Node], in_shapes: tuple, out_shape: Shape | None,
                params: int) -> str:
    if not nodes:
        return ""
    if len(nodes) == 1:
        n = nodes[0]
        extra = n.param_explanation and n.param_explanation != "no parameters"
        return n.explanation + (msg("\nParameters: {p}", p=n.param_explanation) if extra else "")
    x = in_shapes[0] if in_shapes else None
    lines = [_summary(btype, x, out_shape)] if x is not None and out_shape is not None else []
    cats = [n for n in nodes if n.op == "cat"]
    dense = dense_growth(cats)
    if dense is not None:
        lines.append(_dense_line(*dense))
    elif cats:
        lines.append(_branches_line(cats))
    adds = [n for n in nodes if n.op == "add" and n.shortcut is not None]
    if adds:
        lines.append(_residual_line(adds, nodes))
    convs = [n for n in nodes if n.op == "conv2d"]
    line = _bottleneck_line(convs) if adds else None
    if line:
        lines.append(line)
    line = _transition_line(nodes, convs) if not adds and not cats else None
    if line:
        lines.append(line)
    elif not adds and not cats and x is not None and out_shape is not None:
        line = _downsampling_line(nodes, x, out_shape)
        if line:
            lines.append(line)
    lines.append(msg("parameters: {params}; MACs: {macs}", params=count(params),
                     macs=count(sum(n.macs for n in nodes))))
    return join("\n", lines)


def _summary(btype: str, x: Shape, y: Shape) -> str:
    line = f"{btype}: {shape_text(x)} → {shape_text(y)}"
    if len(x) != 4 or len(y) != 4:
        return line
    bits = []
    if x[1] != y[1]:
        bits.append(msg("channels {a} → {b}", a=x[1], b=y[1]))
    if x[2:] != y[2:]:
        bits.append(f"H×W {x[2]}×{x[3]} → {y[2]}×{y[3]}" + _ratio(x, y))
    return line + (" (" + join(", ", bits) + ")" if bits else "")


def _ratio(x: Shape, y: Shape) -> str:
    if y[2] and y[2] != x[2] and x[2] % y[2] == 0:
        return f" (÷{x[2] // y[2]})"
    return ""


def dense_growth(cats: list[Node]) -> tuple[int, list[int]] | None:
    """(c₀, [k₁, k₂ …]) when the concatenations form a dense chain: each one extends the
    previous (seed style ``X = cat(X, Y)``: it takes the previous result as an input;
    torchvision style ``cat(x₀ … x_l)``: the same parts plus one). None otherwise."""
    if len(cats) < 2:
        return None
    parts = [tuple(_attrs(c).get("parts", ())) for c in cats]
    chained = all(prev.id in cur.inputs and len(p) == 2
                  for prev, cur, p in zip(cats, cats[1:], parts[1:]))
    if chained and len(parts[0]) == 2:
        return parts[0][0], [p[1] for p in parts]
    growing = all(len(b) == len(a) + 1 and b[:len(a)] == a for a, b in zip(parts, parts[1:]))
    if growing and len(parts[0]) >= 1:
        return parts[-1][0], list(parts[-1][1:])
    return None


def _dense_line(c0: int, ks: list[int]) -> str:
    total = c0 + sum(ks)
    if len(set(ks)) == 1:
        return msg("dense connections: every layer adds k = {k} channels to all earlier ones: "
                   "c₀ + L·k = {c0} + {L}·{k} = {total} channels", k=ks[0], c0=c0, L=len(ks),
                   total=total)
    return msg("dense connections: {sum} = {total} channels",
               sum=f"{c0} + " + " + ".join(map(str, ks)), total=total)


def _branches_line(cats: list[Node]) -> str:
    sums = [_attrs(c).get("parts", ()) for c in cats]
    text = [" + ".join(map(str, p)) + f" = {sum(p)}" for p in sums]
    if len(cats) == 1:
        return msg("{n} parallel branches concatenated: {sum} channels", n=len(sums[0]),
                   sum=text[0])
    return msg("{n} blocks, each concatenating its parallel branches: {sums} channels",
               n=len(cats), sums="; ".join(text))


def _activation_after(add: Node, nodes: list[Node]) -> str | None:
    """The activation the block applies to the sum itself (d2l's ``F.relu(Y + X)``), if any:
    the add's only reader inside the block is one activation of it alone."""
    readers = [n for n in nodes if add.id in n.inputs]
    if len(readers) == 1 and readers[0].category == "act" and readers[0].inputs == (add.id,):
        t = readers[0].module_type or readers[0].op
        return {"relu": "ReLU"}.get(t, t)
    return None


def _residual_line(adds: list[Node], nodes: list[Node]) -> str:
    if len(adds) == 1:
        s = adds[0].shortcut
        act = _activation_after(adds[0], nodes)
        if act and s.projection:
            return msg("residual: output = {act}(F(x) + shortcut(x)); {shortcut}", act=act,
                       shortcut=s.text())
        if act:
            return msg("residual: output = {act}(F(x) + x) (identity shortcut: shapes already "
                       "match)", act=act)
        if s.projection:
            return msg("residual: output = F(x) + shortcut(x); {shortcut}", shortcut=s.text())
        return msg("residual: output = F(x) + x (identity shortcut: shapes already match)")
    units = []
    for a in adds:
        s = a.shortcut
        where = a.module_path or a.id
        stride = msg(", stride {s}", s=s.stride[0]) if s.stride != (1, 1) else ""
        units.append(msg("{where}: projection through '{layer}' ({cin}→{cout}{stride})",
                         where=where, layer=s.layer, cin=s.in_channels, cout=s.out_channels,
                         stride=stride) if s.projection else
                     msg("{where}: identity", where=where))
    acts = {_activation_after(a, nodes) for a in adds}
    if len(acts) == 1 and None not in acts:
        return msg("{n} residual units, output = {act}(F(x) + shortcut(x)) — {units}",
                   n=len(adds), act=acts.pop(), units=join("; ", units))
    return msg("{n} residual units, output = F(x) + shortcut(x) — {units}", n=len(adds),
               units=join("; ", units))


def _bottleneck_line(convs: list[Node]) -> str | None:
    if len(convs) < 3:
        return None
    a0, a1, a2 = (_attrs(c) for c in convs[:3])
    k = a1.get("kernel")
    if a0.get("kernel") != (1, 1) or k is None or k == (1, 1) or a2.get("kernel") != (1, 1):
        return None
    w, e = a0.get("out"), a2.get("out")
    if not w or not e or e % w or e == w:
        return None
    kk = f"{hw_text(k)}×{hw_text(k)}" if k[0] == k[1] else f"{k[0]}×{k[1]}"
    if a0["in"] == w:  # ResNet-50's first block: 64 in, width 64
        return msg("bottleneck: 1×1 keeps {cin} channels, the {k} conv works at {w}, "
                   "1×1 expands ×{x} to {w}·{x} = {e}", cin=a0["in"], w=w, k=kk, x=e // w, e=e)
    return msg("bottleneck: 1×1 reduces {cin} → {w} channels, the {k} conv works at {w}, "
               "1×1 expands ×{x} to {w}·{x} = {e}", cin=a0["in"], w=w, k=kk, x=e // w, e=e)


def _transition_line(nodes: list[Node], convs: list[Node]) -> str | None:
    pools = [n for n in nodes if n.op == "avg_pool2d"]
    if len(convs) != 1 or _attrs(convs[0]).get("kernel") != (1, 1) or not pools:
        return None
    a0 = _attrs(convs[0])
    ratio = a0["out"] / a0["in"] if a0["in"] else 0
    p = pools[-1]
    x = p.input_shapes[0] if p.input_shapes else None
    y = p.output_shape
    if x is None or y is None or len(x) != 4 or len(y) != 4 or \
            (y[2], y[3]) != (x[2] // 2, x[3] // 2):  # the sentence says "halves"
        return None
    return msg("transition: the 1×1 conv compresses {cin} → {cout} channels (×{ratio}), the "
               "average pool halves H×W {hw_in} → {hw_out}", cin=a0["in"], cout=a0["out"],
               ratio=f"{ratio:g}", hw_in=f"{x[2]}×{x[3]}", hw_out=f"{y[2]}×{y[3]}")


def _downsampling_line(nodes: list[Node], x: Shape, y: Shape) -> str | None:
    """Which layers shrink H×W, each with its factor (a stem: strided conv and max-pool)."""
    if len(x) != 4 or len(y) != 4 or x[2:] == y[2:]:
        return None
    steps = []
    for n in nodes:  # only N×C×H×W → N×C×H×W nodes say anything about H×W
        x_in = n.input_shapes[0] if n.input_shapes else None
        if x_in is None or len(x_in) != 4 or n.output_shape is None or \
                len(n.output_shape) != 4:
            continue
        h_in, h_out = x_in[2], n.output_shape[2]
        if h_out < h_in:
            steps.append(f"{n.label} ({h_in}→{h_out})")
    if not steps:
        return None
    return msg("H×W {hw_in} → {hw_out}{ratio} by {steps}", hw_in=f"{x[2]}×{x[3]}",
               hw_out=f"{y[2]}×{y[3]}", ratio=_ratio(x, y), steps=join(msg(", then "), steps))
