"""Plain frozen records produced by :func:`vizapp.analysis.analyze`.

They hold no tensors and no modules: they pickle, hash and cache, and everything downstream
(render, components, CLI) reads only these.

Vocabulary
- A **node** is one operation of the traced graph (a leaf module call such as ``Conv2d``, or a
  function such as ``torch.cat``, ``F.relu``, ``+``, ``x.reshape``). Nodes are in execution order.
- A **block** is a module of the model's hierarchy (``b2``, ``b2.0``, ``b2.0.conv1``); path ``""``
  is the whole model. Every node belongs to exactly one innermost block (its ``module_path``).
- Shapes include the batch dimension: ``(N, C, H, W)``.
- MACs are multiply–accumulates (FLOPs ≈ 2 × MACs).
"""

from __future__ import annotations

from vizapp.i18n import msg, tr
from dataclasses import asdict, dataclass, field
from typing import Any

Shape = tuple[int, ...]

# node categories, used for colours and legends
CATEGORIES = ("input", "conv", "bn", "norm", "act", "pool", "linear", "concat", "add", "reshape",
              "dropout", "output", "other")


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of one output position on the input image, per axis (H, W).

    ``size``: how many input pixels one output pixel sees; ``jump``: input pixels between two
    neighbouring output pixels (the product of strides); ``start``: input coordinate of the
    centre of output pixel 0 (negative when padding reaches outside the image)."""

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]

    def text(self) -> str:
        (sh, sw), (jh, jw) = self.size, self.jump
        s = f"{sh}×{sw}" if sh != sw else f"{sh}"
        j = f"{jh}×{jw}" if jh != jw else f"{jh}"
        return msg("RF {size}, jump {jump}", size=s, jump=j)


@dataclass(frozen=True)
class Shortcut:
    """The skip path of a residual addition ``F(x) + shortcut(x)``."""

    projection: bool  # False: the identity (x itself)
    layer: str = ""  # module path of the 1×1 convolution on a projection shortcut
    in_channels: int = 0
    out_channels: int = 0
    stride: tuple[int, int] = (1, 1)

    def text(self) -> str:
        if not self.projection:
            return msg("the shortcut is the block's input itself (identity)")
        stride = msg(", stride {s}", s=self.stride[0]) if self.stride != (1, 1) else ""
        return msg("the shortcut goes through the 1×1 convolution '{layer}' "
                   "({cin}→{cout} channels{stride})", layer=self.layer, cin=self.in_channels,
                   cout=self.out_channels, stride=stride)


@dataclass(frozen=True)
class Node:
    id: str  # unique fx node name ("conv1", "add_3")
    op: str  # canonical op: "conv2d", "linear", "batch_norm", "relu", "max_pool2d", "cat", "add", …
    category: str  # one of CATEGORIES
    label: str  # short human label: "Conv2d 3×3 s2", "cat", "+"
    module_path: str  # innermost module owning this node ("" = top level)
    module_type: str  # class name of the called module ("Conv2d") or of the function ("cat")
    inputs: tuple[str, ...]  # ids of the nodes whose tensors feed this one
    input_shapes: tuple[Shape, ...]
    output_shape: Shape | None  # None: not a tensor, or not computed (after a failure)
    params: int  # parameters owned by this node's module (0 for functions)
    macs: int
    rf: ReceptiveField | None  # None for non-spatial outputs
    explanation: str  # worked shape arithmetic with the real numbers
    param_explanation: str = ""  # parameter formula with the real numbers
    source: str = "rule"  # "rule" (arithmetic) or "meta" (meta-tensor execution fallback)
    attrs: tuple[tuple[str, Any], ...] = ()  # op hyper-parameters (kernel, stride, …) for labels
    shortcut: Shortcut | None = None  # residual additions: what the skip path is
    macs_note: str = ""  # non-empty: ``macs`` is not counted (0), and this says why
    rf_note: str = ""  # non-empty: ``rf`` is not computed for this spatial output, and why


@dataclass(frozen=True)
class Block:
    path: str  # "" for the model itself, else the dotted module path
    name: str  # last path component ("conv1", "0"); the model's class name for ""
    type: str  # module class name
    depth: int  # 0 for the model, 1 for its direct children, …
    children: tuple[str, ...]  # paths of child blocks that ran, in execution order
    nodes: tuple[str, ...]  # ids of all nodes inside (recursively), in execution order
    inputs: tuple[str, ...]  # ids of nodes outside the block that feed it
    outputs: tuple[str, ...]  # ids of nodes inside the block used outside it (or the last)
    input_shapes: tuple[Shape, ...]
    output_shape: Shape | None
    params: int
    macs: int
    rf: ReceptiveField | None
    explanation: str  # block-level story ("64 + 4·32 = 192 channels", "stride-2 first block")
    repeat_key: str = ""  # equal keys = structurally identical blocks (for folding repeats)


class AnalysisError(ValueError):
    """The one error :func:`vizapp.analysis.analyze` raises: the input or the model cannot be
    analysed at all (an op that rejects its input shapes is not an error but a
    :class:`Failure` record). Its text is a lazy message, shown in the reader's language."""

    def __str__(self) -> str:
        return str(tr(self.args[0])) if self.args else ""


@dataclass(frozen=True)
class Failure:
    """Where and why shape propagation stopped, and how to fix it."""

    node: str  # node id
    module_path: str
    op: str
    input_shapes: tuple[Shape, ...]
    message: str  # what went wrong, in words
    fix: str  # what to change
    min_input: tuple[int, int] | None = None  # smallest (H, W) the network accepts, if searched
    valid_inputs: tuple[int, int] | None = None  # a Linear fixed as written: square sides lo…hi
    features: tuple[int, int] | None = None  # a Linear's (in_features, features arriving)


@dataclass(frozen=True)
class Row:
    """One line of the seed-style table."""

    name: str
    type: str
    depth: int
    output_shape: Shape | None
    params: int
    macs: int
    receptive_field: ReceptiveField | None
    explanation: str
    input_shapes: tuple[Shape, ...] = ()
    macs_note: str = ""  # non-empty: some MACs inside are not counted (``macs`` is a lower bound)
    rf_note: str = ""  # non-empty: the receptive field of this 4-D output is not computed

    def to_dict(self) -> dict[str, Any]:
        d = {
            "name": self.name,
            "type": self.type,
            "depth": self.depth,
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "params": self.params,
            "macs": None if self.macs_note and not self.macs else self.macs,
            "receptive_field": _rf_dict(self.receptive_field),
            "explanation": self.explanation,
        }
        if self.macs_note:
            d["macs_note"] = self.macs_note
        if self.rf_note:
            d["receptive_field_note"] = self.rf_note
        return d


def _rf_dict(rf: ReceptiveField | None) -> dict[str, Any] | None:
    if rf is None:
        return None
    return {"size": list(rf.size), "jump": list(rf.jump), "start": list(rf.start)}


@dataclass(frozen=True)
class Analysis:
    model: str  # display name
    input_shape: Shape  # (N, C, H, W)
    nodes: tuple[Node, ...]  # execution order, including the "input" and "output" nodes
    blocks: tuple[Block, ...]  # pre-order (parent before children, children in exec order)
    total_params: int  # unique parameters (shared ones counted once)
    trainable_params: int
    buffers: int  # elements of buffers (BN running stats …)
    total_macs: int
    output_shape: Shape | None
    method: str = "fx"  # "fx" (symbolic trace) or "hooks" (forward-hook fallback)
    notes: tuple[str, ...] = ()  # things the user should know (fallbacks used, warnings)
    failure: Failure | None = None
    timings: tuple[tuple[str, float], ...] = field(default=(), compare=False)

    # ---------------------------------------------------------------- lookups
    def node(self, node_id: str) -> Node:
        return self.node_index()[node_id]

    def block(self, path: str) -> Block:
        return self.block_index()[path]

    def node_index(self) -> dict[str, Node]:
        """``{node id: Node}``, built once per analysis (shared: read it, never change it)."""
        idx = self.__dict__.get("_nidx")
        if idx is None:
            idx = {n.id: n for n in self.nodes}
            object.__setattr__(self, "_nidx", idx)
        return idx

    def block_index(self) -> dict[str, Block]:
        """``{block path: Block}``, built once per analysis (shared: read it, never change it)."""
        idx = self.__dict__.get("_bidx")
        if idx is None:
            idx = {b.path: b for b in self.blocks}
            object.__setattr__(self, "_bidx", idx)
        return idx

    def __getstate__(self) -> dict[str, Any]:  # drop the lazy indexes when pickling
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def max_depth(self) -> int:
        return max((b.depth for b in self.blocks), default=0)

    # ---------------------------------------------------------------- table
    def rows(self, depth: int = 1) -> list[Row]:
        """Seed-style rows: at depth 1 one row per direct child module, in execution order
        (what ``for name, layer in net.named_children()`` prints); deeper depths expand nested
        modules down to ``depth``. An expanded block also shows the concatenations and
        additions its own ``forward`` does between its children (where DenseNet's channels
        grow and residual shortcuts join); a container its parent iterates with its own ops in
        between (``for blk in self.net: X = cat(X, blk(X))``) is shown through. Blocks that
        did not run (after a failure) are left out."""
        out: list[Row] = []
        root = self.block_index().get("")
        if root is None:
            return out

        def visit(b: Block) -> None:
            for item in self._items(b):
                if isinstance(item, Node):
                    out.append(Row(item.id, item.module_type, b.depth + 1, item.output_shape,
                                   item.params, item.macs, item.rf, item.explanation,
                                   item.input_shapes, item.macs_note, item.rf_note))
                elif item.depth < depth and item.children:
                    visit(item)
                else:
                    out.append(self._row(item))

        visit(root)
        return out

    def _items(self, b: Block) -> list["Block | Node"]:
        """A block's children and its own concatenations/additions, in execution order;
        children interleaved with the block's own ops are replaced by their items."""
        order = self.__dict__.get("_order")
        if order is None:
            order = {n.id: i for i, n in enumerate(self.nodes)}
            object.__setattr__(self, "_order", order)
        own = [self.node(i) for i in b.nodes if self.node(i).module_path == b.path]
        own_idx = [order[n.id] for n in own]
        items: list[tuple[int, Block | Node]] = [
            (order[n.id], n) for n in own if n.category in ("concat", "add")]
        for cp in b.children:
            c = self.block(cp)
            lo, hi = order[c.nodes[0]], order[c.nodes[-1]]
            if c.children and any(lo < i < hi for i in own_idx):
                items += [(order[x.id] if isinstance(x, Node) else order[x.nodes[0]], x)
                          for x in self._items(c)]
            else:
                items.append((lo, c))
        return [x for _, x in sorted(items, key=lambda t: t[0])]

    def _row(self, b: Block) -> Row:
        inner = [self.node(i) for i in b.nodes]
        macs_note = "; ".join(dict.fromkeys(n.macs_note for n in inner if n.macs_note))
        last = self.node(b.outputs[-1]) if b.outputs else None
        rf_note = last.rf_note if last is not None else ""
        return Row(b.path, b.type, b.depth, b.output_shape, b.params, b.macs, b.rf,
                   b.explanation, b.input_shapes, macs_note, rf_note)

    @property
    def macs_per_image(self) -> int:
        """MACs of one image (the published figures and Compare are per image)."""
        return self.total_macs // max(self.input_shape[0], 1)

    @property
    def uncounted(self) -> tuple[str, ...]:
        """Why some MACs are not counted (empty: ``total_macs`` is complete)."""
        return tuple(dict.fromkeys(n.macs_note for n in self.nodes if n.macs_note))

    def macs_text(self, value: str) -> str:
        """``value`` (a formatted MAC count) with "≥ " when some MACs are not counted."""
        return ("≥ " if self.uncounted else "") + value

    def to_dict(self, depth: int = 1) -> dict[str, Any]:
        """The JSON of ``vizapp table``."""
        d: dict[str, Any] = {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "total_macs": self.total_macs,
            "method": self.method,
            "rows": [r.to_dict() for r in self.rows(depth)],
        }
        if self.uncounted:
            d["total_macs_complete"] = False
            d["uncounted"] = list(self.uncounted)
        if self.notes:
            d["notes"] = list(self.notes)
        if self.failure is not None:
            d["failure"] = asdict(self.failure)
        return d
