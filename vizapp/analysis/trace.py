"""Step 1 of the pipeline: capture the model's graph as a list of :class:`Step` s.

``trace(model)`` uses ``torch.fx`` in eval mode (the caller's ``training`` flags are restored).
A node's owning module comes from the tracer's module stack. When fx cannot trace the model
(data-dependent control flow), :mod:`.hooks` captures the module calls instead and produces
the same steps.

``torch.fx`` patches process-wide state while it traces (``nn.Module.__call__`` and friends),
so every analysis in this process holds :data:`TRACE_LOCK` (traces, meta runs and the
minimum-input search): two threads analysing at once would otherwise corrupt each other. A
forward pass outside the lock in another thread can still be caught by a trace's patches:
the app therefore runs analyses in worker processes (:mod:`vizapp.runtime.workers`).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any, Iterator

from torch import fx, nn

# held by every fx trace and every hooks capture in this process (they patch globals)
TRACE_LOCK = threading.RLock()


@dataclass
class Step:
    """One node of the captured graph, prepared once per trace (reused by the min-input
    search)."""

    name: str
    op: str  # fx opcode: placeholder | call_module | call_function | call_method | get_attr | output
    target: Any
    args: Any
    kwargs: Any
    module: nn.Module | None
    module_path: str
    inputs: tuple[str, ...]  # names of the steps feeding this one


@dataclass
class Traced:
    steps: list[Step]
    model: nn.Module
    method: str = "fx"  # "fx", "hooks" or "file" (read from a model file)
    notes: tuple[str, ...] = ()


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode and restore each one's flag afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield
    finally:
        for m, t in flags:
            m.training = t


def fx_graph(model: nn.Module) -> fx.Graph:
    """``fx.Tracer().trace(model)`` in eval mode, under the process-wide trace lock."""
    with TRACE_LOCK, eval_mode(model):
        return fx.Tracer().trace(model)


def trace(model: nn.Module) -> Traced:
    """fx-trace ``model`` into steps."""
    return Traced(steps_from_graph(fx_graph(model), model), model)


def steps_from_graph(graph: fx.Graph, model: nn.Module) -> list[Step]:
    """The steps of an fx graph over ``model``'s modules (a trace's, or one rebuilt from a
    model file by :mod:`vizapp.modelfile`): a node's owning module is its call_module target,
    else the innermost entry of its ``nn_module_stack``."""
    modules = dict(model.named_modules())
    steps = []
    for n in graph.nodes:
        module = modules.get(n.target) if n.op == "call_module" else None
        if n.op == "call_module":
            path = n.target
        else:
            stack = n.meta.get("nn_module_stack") or {}
            path = next(reversed(stack.values()))[0] if stack else ""
        steps.append(Step(n.name, n.op, n.target, n.args, n.kwargs, module, path,
                          tuple(a.name for a in n.all_input_nodes)))
    return steps
