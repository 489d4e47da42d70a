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
from functools import cached_property
from typing import Any

from .table import Row, rows as table_rows

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
    kind: str = "other"  # which bug (FAILURE_KINDS): the headline and explanation follow it


# what went wrong, as a student would name the bug (the page's headline and explanation)
FAILURE_KINDS = ("too_small", "linear_features", "channels", "join", "reshape", "other")


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

    # ------------------------------------------------- derived facts of the graph (computed once)
    @cached_property
    def _graph(self) -> "GraphFacts":
        return GraphFacts.of(self)

    def order(self) -> dict[str, int]:
        """Node id → its position in execution order."""
        return self._graph.order

    def parents(self) -> dict[str, str]:
        """Block path → the path of the block that contains it."""
        return self._graph.parents

    def consumers(self) -> dict[str, tuple[str, ...]]:
        """Node id → the nodes that read its output (each once, in execution order)."""
        return self._graph.consumers

    def is_transparent(self, b: "Block") -> bool:
        """A module whose calls are interleaved with its parent's own ops (a ``ModuleList``
        the parent iterates while concatenating, a module called twice): the Shapes table
        lists its children in its place and the graph draws them as its parent's (a cluster
        or one node for it would be a cycle). One rule for both."""
        return b.path in self._graph.transparent

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
        """The seed-style rows of the Shapes table (:func:`vizapp.analysis.table.rows`)."""
        return table_rows(self, depth)

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


@dataclass(frozen=True)
class GraphFacts:
    """What the table and the graph both derive from an analysis's nodes and blocks."""

    order: dict[str, int]
    parents: dict[str, str]
    consumers: dict[str, tuple[str, ...]]
    transparent: frozenset[str]

    @staticmethod
    def of(a: Analysis) -> "GraphFacts":
        order = {n.id: i for i, n in enumerate(a.nodes)}
        parents = {c: b.path for b in a.blocks for c in b.children}
        uses: dict[str, dict[str, None]] = {}
        for n in a.nodes:
            for i in n.inputs:
                uses.setdefault(i, {})[n.id] = None
        transparent = frozenset(
            b.path for b in a.blocks
            if b.path and b.children and b.nodes and b.inputs
            and any(order.get(i, -1) > min(order.get(x, 0) for x in b.nodes) for i in b.inputs))
        return GraphFacts(order, parents, {k: tuple(v) for k, v in uses.items()}, transparent)
