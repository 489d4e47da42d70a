"""Block graph as Graphviz DOT, from the analysis records alone (no Streamlit, no torch).

``to_dot(analysis, depth=1)`` draws the traced graph with nodes coloured by category, modules as
clusters (open) or single block nodes (collapsed), every edge labelled with the tensor shape
it carries (C×H×W, batch dropped), residual skips and concatenations visually distinct from
the main path, and a legend.

Three things keep deep and dense networks readable and fast to lay out:

* **Depth**: a module at depth ``d`` is open (a cluster showing its children) when
  ``d < depth``, collapsed (one node with output shape, params and MACs) otherwise;
  ``expanded`` / ``collapsed`` name blocks that override the depth on their own.
* **Folded repeats**: consecutive sibling blocks with the same ``repeat_key`` that form a
  chain (each feeds only the next) are drawn once, "Bottleneck ×35 · 1024 ch · 14×14 ·
  39.1 M params". Listing the fold's id (``fold_id(path)``) in ``expanded`` unfolds it.
* **Dense connections**: torchvision's DenseNet concatenates *all* earlier features in every
  layer (O(n²) edges). A concatenation whose inputs start with exactly the inputs of an
  earlier concatenation (same dim) is drawn as ``cat(earlier cat, new inputs…)`` — the same
  tensor, since concatenation is associative — so a dense block has O(n) edges. A
  concatenation that is the entry of a collapsed block and reads only tensors from outside
  it is drawn just before the block node (it is the block's input), which keeps the collapsed
  views linear too.

Ids are stable and map back to the records: ``n-<node id>``, ``b-<block path>``,
``f-<first block path>`` (a fold); they become the ``id`` of the SVG groups, which is how the
viewer reports what was clicked (:func:`parse_id`). Output is deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from vizapp.render.branch_order import cat_order
from vizapp.render.fonts import DOT_FONT_CJK
from vizapp.i18n import N_, _, get_lang, tr
from vizapp.analysis.records import CATEGORIES, Analysis, Block, Node, Shape
from vizapp.fmt import human, shape_text

__all__ = ["to_dot", "build_view", "View", "Unit", "Edge", "parse_id", "node_id", "block_id",
           "fold_id", "fold_members", "shape_text", "human", "THEMES"]

FONT = "Helvetica"
# in Chinese: a CJK-capable stack (SVG font-family in the browser, fontconfig for PNG export);
# English keeps the plain font so its DOT (and the layout cache, and the goldens) is unchanged
FONT_CJK = DOT_FONT_CJK


def _font() -> str:
    return FONT if get_lang() == "en" else FONT_CJK

# ----------------------------------------------------------------------------- themes
_LIGHT_KINDS = {
    "input": "#e5e7eb", "conv": "#bfdbfe", "bn": "#fde68a", "norm": "#fef3c7", "act": "#bbf7d0",
    "pool": "#fecaca", "linear": "#ddd6fe", "concat": "#f5d0fe", "add": "#fed7aa",
    "reshape": "#e2e8f0", "dropout": "#f1f5f9", "output": "#e5e7eb", "other": "#f1f5f9",
}
_DARK_KINDS = {
    "input": "#374151", "conv": "#1e40af", "bn": "#854d0e", "norm": "#713f12", "act": "#166534",
    "pool": "#991b1b", "linear": "#5b21b6", "concat": "#86198f", "add": "#9a3412",
    "reshape": "#334155", "dropout": "#1f2937", "output": "#374151", "other": "#334155",
}
THEMES: dict[str, dict] = {
    "light": dict(bg="#ffffff", fg="#111827", muted="#6b7280", edge="#4b5563",
                  border="#374151", cluster=("#f8fafc", "#eef2f7"), cluster_border="#94a3b8",
                  block="#eef2ff", block_border="#4f46e5", fold="#ccfbf1", skip="#ea580c", concat="#a21caf",
                  fail="#dc2626", kinds=_LIGHT_KINDS),
    "dark": dict(bg="#0e1117", fg="#e5e7eb", muted="#9ca3af", edge="#9ca3af",
                 border="#cbd5e1", cluster=("#161b26", "#1c2331"), cluster_border="#475569",
                 block="#272a5c", block_border="#a5b4fc", fold="#134e4a", skip="#fb923c", concat="#e879f9",
                 fail="#f87171", kinds=_DARK_KINDS),
}

KIND_TITLES = {
    "input": N_("input"), "conv": N_("convolution"), "bn": N_("batch norm"), "norm": N_("other normalisation"), "act": N_("activation"),
    "pool": N_("pooling"), "linear": N_("linear"), "concat": N_("concatenation"), "add": N_("residual add"),
    "reshape": N_("reshape / flatten"), "dropout": N_("dropout"), "output": N_("output"), "other": N_("other op"),
}


# ----------------------------------------------------------------------------- ids
def node_id(nid: str) -> str:
    return "n-" + nid


def block_id(path: str) -> str:
    return "b-" + path


def fold_id(path: str) -> str:
    """Id of the fold that starts at block ``path`` (put it in ``expanded`` to unfold)."""
    return "f-" + path


def parse_id(dot_id: str | None) -> tuple[str, str] | None:
    """``"n-conv1"`` → ``("node", "conv1")``; ``"b-layer1.0"`` → ``("block", "layer1.0")``;
    ``"f-layer3.1"`` → ``("fold", "layer3.1")``; anything else → None."""
    if not dot_id or len(dot_id) < 2 or dot_id[1] != "-":
        return None
    kind = {"n": "node", "b": "block", "f": "fold"}.get(dot_id[0])
    return (kind, dot_id[2:]) if kind else None


# ----------------------------------------------------------------------------- formatting
def _q(s: str) -> str:
    """A DOT double-quoted string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_WIDE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _pad(s: str, center: bool = True) -> str:
    """Chinese text with spaces added for the layout: graphviz-pure measures a CJK glyph as
    one space (about a third of its width), so boxes and legend cells come out too narrow.
    Centred labels get the spaces on both sides, left-aligned ones after. Text without CJK
    (all English output) is returned unchanged."""
    n = len(_WIDE.findall(s))
    if not n:
        return s
    k = 3 * n
    return (" " * (k // 2) + s + " " * (k - k // 2)) if center else s + " " * k


def _h(s: str) -> str:
    """Text escaped for a DOT HTML-like label."""
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _tooltip(s: str, limit: int = 480) -> str:
    s = s.strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


# ----------------------------------------------------------------------------- view model
@dataclass
class Unit:
    """One drawn node: an analysis node, a collapsed block, or a fold of repeated blocks."""

    id: str  # DOT / SVG id
    form: str  # "node" | "block" | "fold"
    key: str  # node id, block path, or first block path of the fold
    cluster: str  # path of the open block it is drawn in ("" = top level)
    order: int  # execution order of its first node
    members: tuple[str, ...] = ()  # fold: the block paths folded


@dataclass
class Edge:
    src: str  # unit id
    dst: str  # unit id
    tensor: str  # id of the node whose output this edge carries
    shape: Shape | None
    style: str  # "main" | "skip" (residual shortcut into an add) | "concat"


@dataclass
class View:
    units: dict[str, Unit]
    clusters: dict[str, list[str]]  # open block path → child open block paths (pre-order)
    edges: list[Edge]
    rep: dict[str, str]  # analysis node id → unit id drawing it
    folds: dict[str, tuple[str, ...]] = field(default_factory=dict)  # fold id → member paths


def _norm(paths: Iterable[str] | None) -> frozenset[str]:
    return frozenset(paths or ())


def fold_members(analysis: Analysis, path: str) -> tuple[str, ...]:
    """The blocks folded together with (and starting at) ``path``; ``(path,)`` if none."""
    a = analysis
    parents = a.parents()
    parent = parents.get(path)
    while parent and a.is_transparent(a.block(parent)):
        parent = parents.get(parent)
    if parent is None:
        return (path,)
    for run in _runs(a, _effective_children(a, a.block(parent)), a.consumers()):
        if run[0] == path:
            return run
    return (path,)


def _transparent_descendants(a: Analysis, b: Block) -> list[str]:
    out: list[str] = []
    for cp in b.children:
        c = a.block(cp)
        if a.is_transparent(c):
            out.append(cp)
            out.extend(_transparent_descendants(a, c))
    return out


def _effective_children(a: Analysis, b: Block) -> list[str]:
    """Children of ``b`` with transparent ones replaced by their own (effective) children."""
    out: list[str] = []
    for cp in b.children:
        c = a.block(cp)
        if a.is_transparent(c):
            out.extend(_effective_children(a, c))
        else:
            out.append(cp)
    return out


def _runs(a: Analysis, children: list[str], consumers: Mapping[str, Sequence[str]]
          ) -> list[tuple[str, ...]]:
    """Maximal runs (length ≥ 2) of consecutive sibling blocks with one repeat key that form
    a chain: each block reads only what the previous one wrote, and nothing outside the run
    reads the intermediate results."""
    runs: list[tuple[str, ...]] = []
    kids = [a.block(c) for c in children]
    i = 0
    while i < len(kids):
        j = i + 1
        while (j < len(kids) and kids[i].repeat_key and kids[j].repeat_key == kids[i].repeat_key
               and _chained(kids[j - 1], kids[j], consumers)):
            j += 1
        if j - i >= 2:
            runs.append(tuple(k.path for k in kids[i:j]))
        i = j
    return runs


def _chained(prev: Block, nxt: Block, consumers: Mapping[str, Sequence[str]]) -> bool:
    if not prev.outputs or tuple(nxt.inputs) != tuple(prev.outputs):
        return False
    inside = set(nxt.nodes)
    return all(c in inside for o in prev.outputs for c in consumers.get(o, ()))


def _dense_chain(a: Analysis) -> dict[str, tuple[str, ...]]:
    """cat node id → its inputs rewritten as (earlier cat, remaining inputs…) where an
    earlier concatenation along the same dim produced exactly a prefix of its inputs."""
    out: dict[str, tuple[str, ...]] = {}
    seen: dict[tuple, str] = {}  # (dim, inputs) → cat id
    for n in a.nodes:
        if n.category != "concat" or not n.inputs:
            continue
        dim = dict(n.attrs).get("dim", 1)
        ins = tuple(n.inputs)
        for k in range(len(ins) - 1, 0, -1):
            prev = seen.get((dim, ins[:k]))
            if prev is not None:
                out[n.id] = (prev,) + ins[k:]
                break
        seen.setdefault((dim, ins), n.id)
    return out


def _is_ancestor(a: Analysis, s: str, t: str, order: dict[str, int]) -> bool:
    """Whether node ``s`` feeds (transitively) node ``t``; searches only between them."""
    lo = order.get(s, 0)
    stack, seen = [t], {t}
    while stack:
        x = stack.pop()
        for i in a.node(x).inputs:
            if i == s:
                return True
            if i not in seen and order.get(i, -1) > lo:
                seen.add(i)
                stack.append(i)
    return False


def _levels(a: Analysis) -> dict[str, int]:
    """Longest path (in ops) from the input to each node: the main path of a residual add is
    its deeper input, the shortcut the shallower one."""
    lv: dict[str, int] = {}
    for n in a.nodes:
        lv[n.id] = 1 + max((lv.get(i, 0) for i in n.inputs), default=-1)
    return lv


def build_view(analysis: Analysis, depth: int = 1, expanded: Iterable[str] = (),
               collapsed: Iterable[str] = (), fold_repeats: bool = True) -> View:
    """Decide what is drawn: which blocks are open, collapsed or folded, which node each
    analysis node is drawn as, and the edges between drawn units (deduplicated)."""
    v = _ViewBuilder(analysis, depth, _norm(expanded), _norm(collapsed), fold_repeats)
    a = analysis
    v.visit(v.blocks[""] if "" in v.blocks else Block("", a.model, a.model, 0, (), (), (), (),
                                                       (), None, 0, 0, None, ""), "")
    for n in a.nodes:  # a node no visited block owns (should not happen): top level
        if n.id not in v.rep:
            v.add_node(n.id, "")
    return View(v.units, v.clusters, v.edges(), v.rep, v.folds)


class _ViewBuilder:
    """The state of one :func:`build_view`: what each node is drawn as (``rep``), the drawn
    units, the open clusters and the folds."""

    def __init__(self, a: Analysis, depth: int, exp: frozenset[str], col: frozenset[str],
                 fold_repeats: bool):
        self.a, self.depth, self.exp, self.col, self.fold = a, depth, exp, col, fold_repeats
        self.blocks = a.block_index()
        self.consumers = a.consumers()
        self.order = a.order()
        parents = a.parents()
        # ancestors of explicitly expanded blocks are opened so the block can be seen
        self.force_open: set[str] = set()
        for p in exp:
            q = p[2:] if p.startswith("f-") else p
            while q in parents:
                q = parents[q]
                self.force_open.add(q)
        self.owner = {nid: b.path for b in a.blocks for nid in b.nodes}  # innermost block
        self.units: dict[str, Unit] = {}
        self.rep: dict[str, str] = {}
        self.clusters: dict[str, list[str]] = {"": []}
        self.folds: dict[str, tuple[str, ...]] = {}

    def is_open(self, b: Block) -> bool:
        if b.path == "":
            return True
        if not b.children or b.path in self.col:
            return False
        return b.path in self.exp or b.path in self.force_open or b.depth < self.depth

    def add_node(self, nid: str, cluster: str) -> None:
        uid = node_id(nid)
        self.units[uid] = Unit(uid, "node", nid, cluster, self.order.get(nid, 0))
        self.rep[nid] = uid

    def _runs(self, kids: list[str]) -> dict[str, tuple[str, ...]]:
        """Child path → the run of identical chained siblings it is folded into."""
        in_run: dict[str, tuple[str, ...]] = {}
        for run in (_runs(self.a, kids, self.consumers) if self.fold else []):
            if fold_id(run[0]) in self.exp or any(
                    p in self.exp or p in self.force_open or p in self.col for p in run):
                continue
            for p in run:
                in_run[p] = run
        return in_run

    def visit(self, b: Block, cluster: str) -> None:
        kids = _effective_children(self.a, b)
        in_run = self._runs(kids)
        for cp in kids:
            c, run = self.blocks[cp], in_run.get(cp)
            if run is not None:
                if cp == run[0]:
                    self._add_fold(run, cluster)
            elif not c.children:  # a leaf module: its call(s) are drawn as nodes
                for nid in c.nodes:
                    if self.owner.get(nid) == cp:
                        self.add_node(nid, cluster)
            elif self.is_open(c):
                self.clusters.setdefault(cluster, []).append(cp)
                self.clusters[cp] = []
                self.visit(c, cp)
            else:
                self._add_block(c, cluster)
        # nodes owned by this block itself (adds, cats, functional ops …), or by a
        # transparent child drawn in its place
        mine = {b.path} | set(_transparent_descendants(self.a, b))
        for nid in b.nodes if b.path else [n.id for n in self.a.nodes]:
            if self.owner.get(nid, "") in mine and nid not in self.rep:
                self.add_node(nid, cluster)

    def _add_fold(self, run: tuple[str, ...], cluster: str) -> None:
        fid = fold_id(run[0])
        first = min((self.order.get(n, 0) for p in run for n in self.blocks[p].nodes),
                    default=0)
        self.units[fid] = Unit(fid, "fold", run[0], cluster, first, run)
        self.folds[fid] = run
        for p in run:
            for nid in self.blocks[p].nodes:
                self.rep[nid] = fid

    def _add_block(self, c: Block, cluster: str) -> None:
        uid = block_id(c.path)
        self.units[uid] = Unit(uid, "block", c.path, cluster,
                               min((self.order.get(n, 0) for n in c.nodes), default=0))
        inside = set(c.nodes)
        for nid in c.nodes:
            self.rep[nid] = uid
        # the block's own entry concatenation of outside tensors (a torchvision dense layer
        # concatenating all earlier features) is its input: draw it before it
        for nid in c.nodes:
            n = self.a.node(nid)
            if (n.category == "concat" and self.owner.get(nid) == c.path and n.inputs
                    and not any(i in inside for i in n.inputs)):
                self.add_node(nid, cluster)

    def edges(self) -> list[Edge]:
        """Edges between drawn units, concat chains rewritten, one per (src, dst, tensor)."""
        a, rep = self.a, self.rep
        chain, levels = _dense_chain(a), _levels(a)
        edges: list[Edge] = []
        seen: set[tuple[str, str, str]] = set()
        for n in a.nodes:
            du = rep.get(n.id)
            if du is None:
                continue
            ins = n.inputs
            if n.id in chain and rep.get(chain[n.id][0]) in (node_id(chain[n.id][0]), du):
                ins = chain[n.id]
            visible = du == node_id(n.id)
            main = max(ins, key=lambda i: levels.get(i, 0)) if ins else None
            for src in ins:
                su = rep.get(src)
                if su is None or su == du or (su, du, src) in seen:
                    continue
                seen.add((su, du, src))
                style = "main"
                if visible and src != main and n.category == "add":
                    style = "skip"
                elif visible and n.category == "concat" and any(
                        _is_ancestor(a, src, t, self.order) for t in ins if t != src):
                    style = "concat"  # features carried forward: cat(x, f(x)), not a branch
                edges.append(Edge(su, du, src, a.node(src).output_shape, style))
        return edges


# ----------------------------------------------------------------------------- DOT text
def _block_title(a: Analysis, b: Block) -> str:
    """Display name: ``layer1`` or ``layer1.0`` for numbered children of a Sequential."""
    if b.name.isdigit():
        parent = a.parents().get(b.path)
        if parent:
            return f"{a.block(parent).name}.{b.name}" if a.block(parent).path else b.name
    return b.name


def _out_text(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    if len(shape) == 4:
        return _("{c} ch · {h}×{w}").format(c=shape[1], h=shape[2], w=shape[3])
    if len(shape) == 2:
        return _("{n} features").format(n=shape[1])
    return shape_text(shape)


def fold_label(a: Analysis, members: tuple[str, ...]) -> str:
    """``"Bottleneck ×35 · 1024 ch · 14×14 · 39.1 M params"``."""
    last = a.block(members[-1])
    params = sum(a.block(p).params for p in members)
    return (f"{last.type} ×{len(members)} · {_out_text(last.output_shape)} · "
            + _("{n} params").format(n=human(params)))


def to_dot(analysis: Analysis, depth: int = 1, expanded: Iterable[str] = (),
           collapsed: Iterable[str] = (), fold_repeats: bool = True, theme: str = "light",
           legend: bool = True, title: bool = True, tooltips: bool = True,
           view: View | None = None, direction: str = "TB", edge_labels: bool = True,
           answers: bool = True) -> str:
    """The graph as DOT text (deterministic).

    ``depth``: module depth shown open (1 = the model's direct children as blocks; 99 = every
    leaf op). ``expanded`` / ``collapsed``: block paths (or fold ids, ``f-<path>``) opened or
    closed regardless of ``depth``. ``fold_repeats``: draw runs of identical chained blocks
    once. ``theme``: ``"light"`` or ``"dark"``. ``tooltips``: hover text with the worked
    arithmetic (left out, the DOT depends only on structure, shapes and counts). ``view``: a
    :func:`build_view` already made for these settings (it is built here otherwise).
    ``direction``: ``"TB"`` (top to bottom) or ``"LR"`` (left to right, for wide screens).
    ``edge_labels``: the C×H×W on every edge. ``answers``: what a node's or block's label
    computes from the input (a block's output, params and MACs, a Flatten's size, a Linear's
    in_features, the totals); off with the other two for predict-then-reveal, so that what
    remains is the network as written and gives no shape away."""
    a = analysis
    t = THEMES.get(theme, THEMES["light"])
    if view is None:
        view = build_view(a, depth, expanded, collapsed, fold_repeats)
    attrs = _graph_attrs(a, view, t, title, legend, answers)
    if direction == "LR":
        attrs = ["rankdir=LR" if x == "rankdir=TB" else x for x in attrs]
    out = ["digraph vizapp {", "  graph [" + ", ".join(attrs) + "];",
           f"  node [fontname={_q(_font())}, fontsize=11, fontcolor={_q(t['fg'])}, "
           f"color={_q(t['border'])}, penwidth=0.8, shape=box, style=\"rounded,filled\", "
           f"height=0.3, margin=\"0.1,0.04\"];",
           f"  edge [fontname={_q(_font())}, fontsize=9, fontcolor={_q(t['muted'])}, "
           f"color={_q(t['edge'])}, arrowsize=0.6, penwidth=0.9];"]
    _emit_units(out, a, view, t, tooltips, answers)
    out += [_edge_stmt(e, t, edge_labels) for e in view.edges]
    out += cat_order(a, view)  # Inception's p1…p4 in torch.cat order
    out.append("}")
    return "\n".join(out) + "\n"


def _graph_attrs(a: Analysis, view: View, t: dict, title: bool, legend: bool,
                 answers: bool = True) -> list[str]:
    attrs = [f"bgcolor={_q(t['bg'])}", "rankdir=TB", "nodesep=0.22", "ranksep=0.32",
             "pad=0.25", "outputorder=edgesfirst", f"fontname={_q(_font())}",
             f"fontcolor={_q(t['fg'])}", 'id="vz-graph"']
    rows = []
    if title:
        head = (f"{a.model} · " + _("input {shape}").format(
            shape=shape_text(a.input_shape, batch=True)))
        if answers:
            head += (" · " + _("{n} params").format(n=human(a.total_params))
                     + f" · {human(a.total_macs)} MACs")
        rows.append(f"<tr><td align=\"left\" colspan=\"10\"><font point-size=\"13\">"
                    f"<b>{_h(_pad(head, False))}</b></font></td></tr>")
    if legend:
        rows += _legend_rows(view, a, t)
    if rows:
        attrs += ["label=<<table border=\"0\" cellborder=\"0\" cellspacing=\"3\" "
                  "cellpadding=\"1\">" + "".join(rows) + "</table>>",
                  "labelloc=t", "labeljust=l", "fontsize=9"]
    return attrs


def _tip(text: str, on: bool) -> str:
    """``, tooltip="…"`` when tooltips are on, else nothing."""
    return f", tooltip={_q(_tooltip(text))}" if on else ""


def _emit_units(out: list[str], a: Analysis, view: View, t: dict, tips: bool,
                answers: bool = True) -> None:
    """Every drawn unit, grouped by the open block (cluster) it is drawn in, in execution
    order."""
    fail = a.failure.node if a.failure is not None else None
    by_cluster: dict[str, list[Unit]] = {}
    for u in view.units.values():
        by_cluster.setdefault(u.cluster, []).append(u)
    for us in by_cluster.values():
        us.sort(key=lambda u: (u.order, u.id))

    def unit_line(u: Unit) -> str:
        if u.form == "node":
            return _node_stmt(a, a.node(u.key), t, u.key == fail, tips, answers)
        if u.form == "block":
            return _block_stmt(a, a.block(u.key), t, tips, answers)
        return _fold_stmt(a, u, t, tips, answers)

    def emit(path: str, indent: str) -> None:
        inner = indent
        if path:
            b = a.block(path)
            tip = _tip(f"{b.path} · {b.type}\nout {shape_text(b.output_shape)} · "
                       f"{human(b.params)} params · {human(b.macs)} MACs\n{b.explanation}", tips)
            out.append(f"{indent}subgraph {_q('cluster_' + block_id(path))} {{")
            out.append(f"{indent}  graph [id={_q(block_id(path))}, "
                       f"label={_q(_block_title(a, b) + ' · ' + b.type)}{tip}, "
                       f"class=\"block open\", style=\"rounded,filled\", "
                       f"fillcolor={_q(t['cluster'][b.depth % 2])}, "
                       f"color={_q(t['cluster_border'])}, fontsize=10, labeljust=l, "
                       f"penwidth=0.8];")
            inner = indent + "  "
        out.extend(inner + unit_line(u) for u in by_cluster.get(path, []))
        for cp in view.clusters.get(path, []):
            emit(cp, inner)
        if path:
            out.append(f"{indent}}}")

    emit("", "  ")


def _edge_stmt(e: Edge, t: dict, label: bool = True) -> str:
    attrs = [f"label={_q(' ' + shape_text(e.shape))}"] if label else []
    if e.style == "skip":
        attrs += [f"color={_q(t['skip'])}", "style=dashed", "penwidth=1.3",
                  f"fontcolor={_q(t['skip'])}", 'class="skip"']
    elif e.style == "concat":
        attrs += [f"color={_q(t['concat'])}", "style=dashed", "penwidth=1.1",
                  f"fontcolor={_q(t['concat'])}", 'class="concat"']
    return f"  {_q(e.src)} -> {_q(e.dst)} [{', '.join(attrs)}];"


LABEL_CHARS = 28  # a node's width budget: "Conv2d 3×3 s2 p1 · 1024→2048" still fits one line


def fit_label(label: str, width: int = LABEL_CHARS) -> str:
    """A node's label within its width budget: a longer one (``Conv2d 3×3 s2 p1 g32 ·
    256→256``) goes on two lines, its settings above its channels; the record keeps the one
    line and Details the full call."""
    if len(label) <= width or " · " not in label:
        return label
    head, _sep, tail = label.rpartition(" · ")
    return head + "\n" + tail


def _bare_label(n: Node) -> str:
    """A node's label with nothing computed from the input: "Flatten" (not "Flatten → 400"),
    "Linear →120" (its in_features is the Flatten's answer)."""
    out = dict(n.attrs).get("out")
    if n.op == "linear" and out is not None:
        return f"Linear →{out}"
    if n.op in ("flatten", "view", "reshape"):
        return n.module_type if n.module_type[:1].isupper() else n.op
    return n.label


def _node_stmt(a: Analysis, n: Node, t: dict, failed: bool, tips: bool = True,
               answers: bool = True) -> str:
    fill = t["kinds"].get(n.category, t["kinds"]["other"])
    attrs = [f"id={_q(node_id(n.id))}", f"fillcolor={_q(fill)}", f'class="op {n.category}"']
    if tips:
        tip = [f"{n.label} · {n.module_path or n.op}", f"out {shape_text(n.output_shape)}"]
        if n.params:
            tip.append(f"{n.params:,} params")
        if n.macs:
            tip.append(f"{n.macs:,} MACs")
        if n.rf is not None:
            tip.append(n.rf.text())
        if n.explanation:
            tip.append(n.explanation)
        attrs.append(f"tooltip={_q(_tooltip(chr(10).join(tip)))}")
    if n.category == "add":
        attrs += ['label="+"', "shape=circle", "width=0.32", "height=0.32", "fixedsize=true",
                  "fontsize=14"]
    elif n.category == "concat":
        attrs += [f"label={_q(n.label)}", "shape=invtrapezium", "style=filled", "margin=\"0.02,0.02\""]
    elif n.category in ("input", "output"):
        text = (_("input {shape}") if n.category == "input" else _("output {shape}")).format(
            shape=shape_text(n.output_shape))
        if n.category == "output" and not answers:
            text = _("output")
        attrs += [f"label={_q(_pad(text))}", "shape=oval", "style=filled"]
    else:
        attrs.append(f"label={_q(fit_label(n.label if answers else _bare_label(n)))}")
    if failed:
        attrs += [f"color={_q(t['fail'])}", "penwidth=2.5", f"xlabel={_q(_pad(_('fails here')))}",
                  f"fontcolor={_q(t['fail'])}"]
    return f"{_q(node_id(n.id))} [{', '.join(attrs)}];"


def _block_stmt(a: Analysis, b: Block, t: dict, tips: bool = True, answers: bool = True) -> str:
    label = (f"<<b>{_h(_block_title(a, b))}</b> <font color=\"{t['muted']}\">{_h(b.type)}</font>"
             f"<br/>{_h(_out_text(b.output_shape))}<br/><font point-size=\"9\">"
             + _h(_pad(_("{n} params").format(n=human(b.params)) + f" · {human(b.macs)} MACs"))
             + "</font>>") if answers else \
        (f"<<b>{_h(_block_title(a, b))}</b> <font color=\"{t['muted']}\">{_h(b.type)}</font>>")
    tip = _tip(f"{b.path} · {b.type} (collapsed)\nout {shape_text(b.output_shape)} · "
               f"{b.params:,} params · {b.macs:,} MACs\n{b.explanation}", tips)
    return (f"{_q(block_id(b.path))} [id={_q(block_id(b.path))}, label={label}, "
            f"fillcolor={_q(t['block'])}, color={_q(t['block_border'])}, class=\"block collapsed\""
            f"{tip}, penwidth=1.4];")


def _fold_stmt(a: Analysis, u: Unit, t: dict, tips: bool = True, answers: bool = True) -> str:
    first, last = u.members[0], u.members[-1]
    macs = sum(a.block(p).macs for p in u.members)
    label = (f"<<b>{_h(_pad(fold_label(a, u.members)))}</b><br/><font point-size=\"9\">"
             + _h(_pad(f"{first} … {last} · {human(macs)} MACs · "
                       + _("each {n} params").format(n=human(a.block(first).params))))
             + "</font>>") if answers else \
        (f"<<b>{_h(_pad(a.block(last).type + f' ×{len(u.members)}'))}</b><br/>"
         f"<font point-size=\"9\">{_h(_pad(f'{first} … {last}'))}</font>>")
    tip = _tip(f"{len(u.members)} identical {a.block(first).type} blocks folded "
               f"({first} … {last}); expand to see them one by one.\n"
               f"{a.block(first).explanation}", tips)
    return (f"{_q(u.id)} [id={_q(u.id)}, label={label}, shape=box3d, style=filled, "
            f"fillcolor={_q(t['fold'])}, color={_q(t['block_border'])}, class=\"fold\""
            f"{tip}, penwidth=1.4];")


def _legend_rows(view: View, a: Analysis, t: dict, per_row: int = 5) -> list[str]:
    """Legend entries (only what this view draws) as HTML table rows."""
    kinds = set()
    styles = {e.style for e in view.edges}
    has_block = has_fold = False
    for u in view.units.values():
        if u.form == "node":
            kinds.add(a.node(u.key).category)
        elif u.form == "block":
            has_block = True
        else:
            has_fold = True
    cells = []

    def swatch(color: str, text: str) -> None:
        cells.append(f"<td bgcolor=\"{color}\" border=\"1\" color=\"{t['border']}\" "
                     f"width=\"12\" height=\"10\" fixedsize=\"true\"></td>"
                     f"<td align=\"left\">{_h(_pad(text, False))}</td>")

    def line(color: str, text: str) -> None:
        cells.append(f"<td><font color=\"{color}\"><b>- - -</b></font></td>"
                     f"<td align=\"left\"><font color=\"{color}\">{_h(_pad(text, False))}</font></td>")

    for k in CATEGORIES:
        if k in kinds and k not in ("input", "output"):
            swatch(t["kinds"][k], tr(KIND_TITLES[k]))
    if has_block:
        swatch(t["block"], _("module (collapsed)"))
    if has_fold:
        swatch(t["fold"], _("repeated modules (folded)"))
    if "skip" in styles:
        line(t["skip"], _("residual shortcut"))
    if "concat" in styles:
        line(t["concat"], _("concatenated features"))
    return ["<tr>" + "".join(cells[i:i + per_row]) + "</tr>"
            for i in range(0, len(cells), per_row)]
