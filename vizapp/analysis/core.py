"""``analyze(model, input_shape, batch)`` → frozen :class:`~vizapp.analysis.records.Analysis`.

The pipeline, one module per step (torchinfo's shape: validate → capture → passes → records):

1. :mod:`.trace` — capture the graph with ``torch.fx`` (forward hooks when fx cannot trace);
2. :mod:`.shapes` — :class:`~.shapes.ShapePass`: shapes, MACs and worked arithmetic per op;
3. :mod:`.receptive` — receptive fields per axis;
4. :mod:`.assemble` — nodes, blocks (with :mod:`.stories`) and the failure, as records;
5. on a too-small input, the smallest square input that works (binary search over step 2).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import replace
from typing import Any

import torch
from torch import fx, nn

from vizapp.i18n import msg
from vizapp import i18n
from vizapp.meta_forward import is_meta

from .assemble import assemble
from .receptive import receptive_fields
from .records import Analysis, AnalysisError, Shape
from .shapes import ShapePass
from .hooks import capture as hooks_capture
from .trace import TRACE_LOCK, Traced, eval_mode, fx_graph, trace

MAX_SIDE = 8192  # the min-input search stops here


def _full_shape(input_shape: tuple[int, ...], batch: int) -> Shape:
    try:
        shape = tuple(int(s) for s in input_shape)
        batch = int(batch)
    except (TypeError, ValueError):
        raise AnalysisError(i18n.deferred(
            "the input shape must be whole numbers (C, H, W) and the batch a whole number, got "
            "{shape} and {batch}", shape=repr(input_shape), batch=repr(batch))) from None
    if len(shape) == 4:
        batch, shape = shape[0], shape[1:]
    full = (int(batch),) + shape
    if any(s <= 0 for s in full):
        raise AnalysisError(i18n.deferred("input shape must be positive, got {shape}",
                                          shape=str(full)))
    from vizapp.zoo.base import MAX_INPUT_VALUES

    if math.prod(full) > MAX_INPUT_VALUES:
        raise AnalysisError(i18n.deferred(
            "an input of {shape} = {n} values is more than this tool analyses ({limit}): use a "
            "smaller batch or image", shape="×".join(map(str, full)), n=f"{math.prod(full):,}",
            limit=f"{MAX_INPUT_VALUES:,}"))
    return full


def analyze(model: nn.Module, input_shape: tuple[int, int, int] | tuple[int, ...] = (3, 224, 224),
            batch: int = 1, *, name: str | None = None, search_min_input: bool = True) -> Analysis:
    """Analyse ``model`` for an input of ``batch × input_shape`` (C, H, W).

    Works on CPU or meta models, never runs real arithmetic, never modifies ``model``.
    Analyses in one process take turns (:data:`~.trace.TRACE_LOCK`): fx's tracing patches
    process-wide state that a parallel meta run would trip over.

    Raises only :class:`~.records.AnalysisError` (an op that rejects its input shapes is not an
    error: the analysis holds a :class:`~.records.Failure` naming it)."""
    if not isinstance(model, nn.Module):
        raise AnalysisError(i18n.deferred("expected a torch.nn.Module, got {type}",
                                          type=type(model).__name__))
    # records keep English text with lazy messages (i18n.localize translates a copy for display),
    # so one cached analysis serves every language
    try:
        with TRACE_LOCK, i18n.using(i18n.SOURCE_LANG):
            return _analyze(model, input_shape, batch, name, search_min_input)
    except (AnalysisError, MemoryError):
        raise
    except Exception as exc:  # a bug of this pipeline on an unusual model: one clear error
        text = str(exc).strip().splitlines()
        raise AnalysisError(i18n.deferred(
            "the analysis of {model} stopped on an internal error ({error}); please report it "
            "with the model", model=name or type(model).__name__,
            error=f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)) from exc


def _analyze(model: nn.Module, input_shape: tuple[int, ...], batch: int, name: str | None,
             search_min_input: bool) -> Analysis:
    t0 = time.perf_counter()
    full = _full_shape(input_shape, batch)
    traced, fx_error = capture(model, full)
    return _analyze_captured(traced, full, name or type(model).__name__, search_min_input,
                             fx_error, t0)


def analyze_traced(traced: Traced, input_shape: tuple[int, ...], name: str, *,
                   search_min_input: bool = True) -> Analysis:
    """The passes after capture, on a graph captured elsewhere (a model file's, rebuilt by
    :mod:`vizapp.modelfile`); ``input_shape`` is N×C×H×W. Raises only AnalysisError."""
    try:
        with TRACE_LOCK, i18n.using(i18n.SOURCE_LANG):
            full = _full_shape(tuple(input_shape[1:]), input_shape[0])
            return _analyze_captured(traced, full, name, search_min_input, None,
                                     time.perf_counter())
    except (AnalysisError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - one clear error, as analyze() gives
        text = str(exc).strip().splitlines()
        raise AnalysisError(i18n.deferred(
            "the analysis of {model} stopped on an internal error ({error}); please report it "
            "with the model", model=name,
            error=f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)) from exc


def _analyze_captured(traced: Traced, full: Shape, name: str, search_min_input: bool,
                      fx_error: str | None, t0: float) -> Analysis:
    t1 = time.perf_counter()
    prop = ShapePass(traced, explain=True).run(full)
    t2 = time.perf_counter()
    analysis = assemble(traced, prop, receptive_fields(traced, prop), full, name)
    t3 = time.perf_counter()
    if prop.failure is not None and prop.failure[1].spatial and search_min_input:
        analysis = _with_min_input(analysis, traced, full)
    elif prop.failure is not None and prop.failure[1].features and search_min_input:
        analysis = _with_input_range(analysis, traced, full, prop.failure)
    t4 = time.perf_counter()
    notes = (_hooks_note(fx_error),) if fx_error is not None else ()
    return replace(analysis, notes=notes + traced.notes,
                   timings=(("trace", t1 - t0), ("propagate", t2 - t1), ("records", t3 - t2),
                            ("min_input", t4 - t3)))


def capture(model: nn.Module, full_shape: Shape) -> tuple[Traced, str | None]:
    """Step 1: fx trace, else the forward-hook capture; the second value is why fx failed
    (or None)."""
    try:
        return trace(model), None
    except Exception as exc:  # data-dependent control flow, unsupported Python …
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        with TRACE_LOCK:
            return hooks_capture(model, full_shape), first


def _hooks_note(fx_error: str) -> str:
    return (f"torch.fx could not trace this model ({fx_error}); the graph was captured with "
            f"forward hooks on its modules instead, so functional operations between modules "
            f"(additions, concatenations) are not shown as nodes.")


def _with_min_input(analysis: Analysis, traced: Traced, full: Shape) -> Analysis:
    m = min_input_size(traced, full)
    if m is None:
        return analysis
    f = analysis.failure
    at_m = ShapePass(traced, explain=False).run((full[0], full[1]) + m)
    linear = next((s.module for s in traced.steps if at_m.failure and s.name == at_m.failure[0]),
                  None)
    if at_m.failure is not None and at_m.failure[1].features and \
            not getattr(linear, "fits_input", False):  # a Linear fixed as written
        r = input_range(traced, full, at_m.failure[0])
        if r is not None:
            lo, hi = r
            fix = f.fix + msg(
                ". {h}×{w} is the smallest input the layers before '{layer}' accept, but that "
                "Linear is built for a fixed number of features: as written, this network "
                "accepts square inputs of {sizes}", h=m[0], w=m[1], layer=at_m.failure[0],
                sizes=_sizes(lo, hi))
            return replace(analysis, failure=replace(f, min_input=(lo, lo), valid_inputs=r,
                                                     fix=fix))
    fix = f.fix + msg(". The smallest square input this network accepts is {h}×{w}",
                      h=m[0], w=m[1])
    return replace(analysis, failure=replace(f, min_input=m, fix=fix))


def _sizes(lo: int, hi: int) -> str:
    return f"{lo}×{lo}" if lo == hi else msg("{a} to {b}", a=f"{lo}×{lo}", b=f"{hi}×{hi}")


def _with_input_range(analysis: Analysis, traced: Traced, full: Shape, failure) -> Analysis:
    r = input_range(traced, full, failure[0])
    if r is None:
        return analysis
    f = analysis.failure
    lo, hi = r
    fix = f.fix + msg(". As written, this network accepts square inputs of {sizes}",
                      sizes=_sizes(lo, hi))
    return replace(analysis, failure=replace(f, min_input=(lo, lo), valid_inputs=r, fix=fix))


def input_range(traced: Traced, full: Shape, node: str,
                limit: int = MAX_SIDE) -> tuple[int, int] | None:
    """The square sides for which the Linear ``node`` gets exactly its in_features (the
    flattened size grows with the input, so two binary searches find the range)."""
    shapes = ShapePass(traced, explain=False)

    def sign(side: int) -> int:  # −1: too few features (or too small), 0: fits, +1: too many
        p = shapes.run((full[0], full[1], side, side))
        if p.failure is None:
            return 0
        err = p.failure[1]
        if p.failure[0] != node or err.features is None:
            return -1 if err.spatial else 2
        want, got = err.features
        return -1 if got < want else 1

    def first(at_least: int) -> int:
        lo, hi = 1, limit
        while lo < hi:
            mid = (lo + hi) // 2
            if sign(mid) >= at_least:
                hi = mid
            else:
                lo = mid + 1
        return lo

    lo = first(0)
    if sign(lo) != 0:
        return None
    return lo, first(1) - 1


def min_input_size(traced: Traced, full: Shape, limit: int = MAX_SIDE) -> tuple[int, int] | None:
    """Smallest square H = W for which no op fails for lack of spatial size (a Linear whose
    in_features would then differ does not count: the zoo derives it from the input)."""
    shapes = ShapePass(traced, explain=False)

    def ok(side: int) -> bool:
        p = shapes.run((full[0], full[1], side, side))
        return p.failure is None or not p.failure[1].spatial

    hi = 16
    while not ok(hi):
        hi *= 2
        if hi > limit:
            return None
    lo = 1
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return (lo, lo)


# ----------------------------------------------------------------------------- specs
def build_for_analysis(spec: Any) -> tuple[nn.Module, list[str]]:
    """Build a zoo spec's model with its weights on the meta device (no memory for them:
    :func:`vizapp.zoo.meta_build.build_meta` also handles builders that compute with real tensors,
    like torchvision's RegNets). Only a builder that cannot build that way at all is built
    on the CPU (and the note says so)."""
    from vizapp.zoo import ConfigError, build_model
    from vizapp.zoo.meta_build import build_meta

    try:
        return build_meta(spec), []
    except ConfigError:
        raise
    except Exception as exc:
        model = build_model(spec)
        return model, [f"built on CPU with real weights: the builder cannot run on the meta "
                       f"device ({type(exc).__name__})"]


def analyze_spec(spec: Any) -> Analysis:
    """Analyse a :class:`vizapp.zoo.ModelSpec` (builds its model on meta; a config that reads
    its model from elsewhere, a model file's, gives its analysis itself)."""
    own = getattr(spec.config, "own_analysis", None)
    if callable(own):
        return own()
    with TRACE_LOCK:  # the build runs meta forwards (a Linear sized from the input)
        model, notes = build_for_analysis(spec)
        a = analyze(model, spec.input_shape, spec.batch, name=spec.label)
    return replace(a, notes=a.notes + tuple(notes)) if notes else a


def verify_with_meta(model: nn.Module, analysis: Analysis) -> list[str]:
    """Cross-check: run fx ``ShapeProp`` on meta tensors and list every node whose rule-computed
    shape differs (empty list = all agree)."""
    from torch.fx.passes.shape_prop import ShapeProp

    with eval_mode(model):
        src = model if is_meta(model) else copy.deepcopy(model).to_empty(device="meta")
        meta_gm = fx.GraphModule(src, fx_graph(src))
        ShapeProp(meta_gm).propagate(torch.empty(analysis.input_shape, device="meta"))
    by_name = {n.name: n for n in meta_gm.graph.nodes}
    problems = []
    for node in analysis.nodes:
        if node.category in ("input", "output") or node.output_shape is None:
            continue
        tm = by_name[node.id].meta.get("tensor_meta")
        if tm is None or not hasattr(tm, "shape"):
            continue
        if tuple(tm.shape) != tuple(node.output_shape):
            problems.append(f"{node.id}: rule {node.output_shape} vs meta {tuple(tm.shape)}")
    return problems
