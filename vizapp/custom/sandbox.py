"""The code box's code is evaluated in a short-lived process with OS limits, never in the
server's (or an analysis worker's) own interpreter.

Why a process: the interpreter's caps are checked between its own steps, so one long C-level
operation is never interrupted — a tuple nested 270,000 deep whose hash overflows the C stack
(segfault), ``AA == BB`` over 10¹² list elements with the GIL held, a 1 GB string from a format
width. In a process of its own such code meets the kernel's limits instead: address space
(``RLIMIT_AS``: what it had plus :data:`~.limits.SANDBOX_MEMORY`), CPU seconds
(``RLIMIT_CPU``), a wall-clock kill, no core file; a crash or a kill is one message for one
student, and every other session goes on.

What comes back is *data*, never objects and never a pickle: a JSON :class:`Description` of the
model — each layer's ``torch.nn`` class with its (type-checked, plain) constructor arguments,
containers with their children's names, where each layer was written in the code (for the
one-click fixes) — or the refusal. :func:`rebuild` turns a description into an ``nn.Module`` in
the caller's process by calling ``torch.nn`` constructors only, each checked by
:func:`~.layer_args.check_layer_call` again (even a compromised child could describe nothing
but plain layers). The child checks that round trip itself before it answers.

The child is forked (~15 ms; copy-on-write, so it costs no memory of its own) from a process
that has torch loaded and runs one thread: an analysis worker when the server asks (the
server's sessions are threads, and forking a threaded process is unsafe), the calling process
itself in the CLI or a worker. No process stays behind and none is kept warm for it.
"""

from __future__ import annotations

import ast
import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vizapp.i18n import SOURCE_LANG, Msg, get_lang, msg, tr
from vizapp.runtime import workers
from vizapp.runtime.fork import limit_self, seal_descriptors

from . import limits
from .boxclass import PLAIN_ATTR, BoxModule, Program, new_instance
from .check import CodeError
from .interp import evaluate_source, program_of
from .layer_args import call_values, check_layer_call
from .values import layer_names

Shape = tuple[int, ...]
MAX_REPLY_BYTES = 8 << 20  # a description of 2,000 layers is ~0.3 MB
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
BOX = "class"  # a node for an instance of a class written in the box


@dataclass(frozen=True)
class Site:
    """Where a layer was written: the call's line, the span of its first argument (or
    ``in_features=``) and whether that one call built several layers (a loop)."""

    line: int
    arg_span: tuple[int, int, int, int] | None
    shared: bool


@dataclass(frozen=True)
class Description:
    """A model as data: ``nodes`` in build order (children and module arguments first), the
    root's index, the parameter and layer counts, and the call sites by module path."""

    nodes: tuple
    root: int
    params: int
    layers: int
    sites: tuple  # ((module path, Site), …)
    source: str | None = None  # the code, when the model holds instances of its classes

    def site(self, path: str) -> Site | None:
        return dict(self.sites).get(path)


# ------------------------------------------------------------------------- in the child
def _encode(v: Any, index: dict[int, int]) -> Any:
    if isinstance(v, nn.Module):
        return {"m": index[id(v)]}
    if type(v) is tuple:
        return {"t": [_encode(x, index) for x in v]}
    if type(v) is list:
        return [_encode(x, index) for x in v]
    if type(v) in (bool, int, float, str, type(None)):
        return v
    raise CodeError(msg("nn layers here take numbers, text, tuples and layers, not {type}",
                        type=type(v).__name__))


def _occurrences(model: nn.Module) -> int:
    """How many module calls one pass through the tree makes, shared modules counted each
    time they appear (computed with a memo: a layer shared 2⁴⁰ times costs 40 steps here)."""
    memo: dict[int, int] = {}

    def size(m: nn.Module, depth: int) -> int:
        if depth > limits.MAX_NESTING:
            raise CodeError(msg("the layers nest more than {n} deep", n=limits.MAX_NESTING))
        if id(m) not in memo:
            memo[id(m)] = 1 + sum(size(c, depth + 1) for c in m._modules.values()
                                  if c is not None)
        return memo[id(m)]

    return size(model, 0)


def _describe_model(model: nn.Module, calls: dict[int, tuple]) -> tuple[list, int]:
    index: dict[int, int] = {}
    nodes: list = []

    def visit(m: nn.Module) -> int:
        if id(m) in index:
            return index[id(m)]
        name = type(m).__name__
        if isinstance(m, BoxModule):
            kids = [(k, visit(c)) for k, c in m._modules.items() if c is not None]
            node = {"type": BOX, "class": m.box_class.name, "children": kids,
                    "attrs": {k: _encode(v, index) for k, v in m.box_attrs.items()}}
            index[id(m)] = len(nodes)
            nodes.append(node)
            return index[id(m)]
        if getattr(nn, name, None) is not type(m) or name not in layer_names():
            raise CodeError(msg("{type} is not a torch.nn layer", type=name))
        if name in _CONTAINERS:
            kids = [(k, visit(c)) for k, c in m._modules.items() if c is not None]
            node = {"type": name, "children": kids}
        else:
            if id(m) not in calls:
                raise CodeError(msg("the model holds a {type} layer that the code did not "
                                    "build itself", type=name))
            args, kwargs = calls[id(m)]
            for v in [*args, *kwargs.values()]:
                for x in (v if isinstance(v, (list, tuple)) else [v]):
                    if isinstance(x, nn.Module):
                        visit(x)
            node = {"type": name, "args": None, "kwargs": None}
            node["args"] = [_encode(a, index) for a in args]
            node["kwargs"] = {k: _encode(v, index) for k, v in kwargs.items()}
        index[id(m)] = len(nodes)
        nodes.append(node)
        return index[id(m)]

    root = visit(model)
    return nodes, root


def _sites(model: nn.Module, sites: dict[int, ast.Call]) -> list:
    out = []
    for path, m in model.named_modules():
        call = sites.get(id(m))
        if call is None:
            continue
        arg = call.args[0] if call.args and not isinstance(call.args[0], ast.Starred) else next(
            (k.value for k in call.keywords if k.arg == "in_features"), None)
        span = None if arg is None or arg.end_lineno is None else \
            [arg.lineno, arg.col_offset, arg.end_lineno, arg.end_col_offset]
        shared = sum(1 for n in sites.values() if n is call) > 1
        out.append([path, [call.lineno, span, shared]])
    return out


def _materialise(model: nn.Module, calls: dict[int, tuple], input_shape: Shape | None) -> None:
    """Lazy layers (d2l's ``nn.LazyConv2d``, ``nn.LazyLinear``) take their sizes from the input:
    one meta forward pass of a ``1×C×H×W`` input sets them (no memory, no arithmetic); each is
    then described by its real class and sizes."""
    from torch.nn.modules.lazy import LazyModuleMixin

    lazy = [m for m in model.modules() if isinstance(m, LazyModuleMixin)]
    if not lazy:
        return
    if input_shape is None:
        raise CodeError(msg("nn.{type} takes its size from the input: the app needs the input "
                            "shape to build it", type=type(lazy[0]).__name__))
    shape = "×".join(str(d) for d in input_shape)
    try:
        with torch.no_grad():
            model.eval()(torch.empty(1, *input_shape, device="meta"))
    except CodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - the layer's own complaint, shown with the input
        raise CodeError(msg("the lazy layers could not take their sizes from a {shape} input: "
                            "{error}", shape=shape, error=str(exc).splitlines()[0][:300])) from None
    model.train()
    for m in lazy:
        if isinstance(m, LazyModuleMixin):
            raise CodeError(msg("nn.{type} was not reached by a {shape} input, so its size is "
                                "unknown", type=type(m).__name__, shape=shape))
        import inspect

        values = call_values(m, inspect.signature(type(m).__init__))
        if values is None:
            raise CodeError(msg("cannot describe the materialised {type} layer",
                                type=type(m).__name__))
        calls[id(m)] = (values[0], dict(values[1]))


def describe_here(source: str, input_shape: Shape | None = None) -> dict:
    """Evaluate ``source`` on the meta device in *this* process and describe the model (the
    child's work; also the test suite's way to compare with the sandboxed answer)."""
    with torch.device("meta"):
        interp, model = evaluate_source(source)
        _materialise(model, interp.calls, input_shape)
        n_calls = _occurrences(model)
        if n_calls > limits.MAX_LAYER_CALLS:
            raise CodeError(msg("one pass through the model calls its layers {n:,} times (at "
                                "most {cap:,}): is one layer shared many times over?", n=n_calls,
                                cap=limits.MAX_LAYER_CALLS))
        _check_forward(model, input_shape)
        nodes, root = _describe_model(model, interp.calls)
        params = sum(p.numel() for p in model.parameters())
        if params > limits.MAX_PARAMS:
            raise CodeError(msg("the model has {n:,} parameters; the app builds at most "
                                "{max_params:,} (make the layers smaller)", n=params,
                                max_params=limits.MAX_PARAMS))
        desc = {"nodes": nodes, "root": root, "params": params,
                "layers": sum(1 for _ in model.modules()), "sites": _sites(model, interp.sites)}
        again = rebuild(_description(desc, source))
        if repr(again) != repr(model) or _shapes(again) != _shapes(model):
            raise CodeError(msg("this model cannot be rebuilt from its layers' arguments (a "
                                "layer was changed after it was built?)"))
    return desc


def _check_forward(model: nn.Module, input_shape: Shape | None) -> None:
    """A model with classes from the box: one meta forward pass here, so that a mistake in a
    ``forward`` (``self.conv`` where ``__init__`` made ``self.conv1``) comes back with its line
    like any other error in the code. Shape errors of the layers are left to the analysis,
    which names them better."""
    if input_shape is None or not any(isinstance(m, BoxModule) for m in model.modules()):
        return
    try:
        with torch.no_grad():
            model.eval()(torch.empty(1, *input_shape, device="meta"))
    except CodeError:
        raise
    except Exception:  # noqa: BLE001 - a layer's shape complaint: the analysis explains it
        pass
    finally:
        model.train()


def _shapes(m: nn.Module) -> list:
    return [(n, tuple(t.shape)) for n, t in [*m.named_parameters(), *m.named_buffers()]]


def _error_json(exc: CodeError) -> dict:
    return {"reason": _msg_json(exc.reason), "line": exc.line, "col": exc.col}


def _msg_json(text: Any) -> Any:
    if isinstance(text, Msg):
        return {"msg": [p if isinstance(p, str) else
                        [p[0], [[k, _msg_json(v) if isinstance(v, str) else v]
                                for k, v in p[1]]] for p in text.parts]}
    return str(text)


@dataclass(frozen=True)
class Limits:
    memory: int = limits.SANDBOX_MEMORY  # bytes added to the address space it starts with
    cpu_s: int = limits.SANDBOX_CPU_S
    wall_s: float = limits.SANDBOX_WALL_S


def _limit_self(lim: Limits) -> None:
    limit_self(lim.memory, lim.cpu_s)


def _child(fd: int, source: str, input_shape: Shape | None, lim: Limits) -> None:
    """The forked process: no descriptors but its reply pipe, limits, the work, one JSON
    reply, then ``os._exit`` (no cleanup of the parent's state, no atexit handlers)."""
    try:
        seal_descriptors(fd)  # no descriptor but the reply pipe reaches anything
        _limit_self(lim)
        try:
            reply = {"ok": describe_here(source, input_shape)}
        except CodeError as exc:
            reply = {"error": _error_json(exc)}
        except RecursionError:
            reply = {"error": _error_json(CodeError(msg("the code nests too deeply")))}
        except MemoryError:
            reply = {"error": {"reason": "memory"}}
        except Exception as exc:  # noqa: BLE001 - a layer's own complaint: one line of it
            reply = {"error": _error_json(CodeError(msg("{type}: {error}", type=type(exc).__name__,
                                                        error=str(exc).splitlines()[0][:300]
                                                        if str(exc) else "")))}
        data = json.dumps(reply).encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
    finally:
        os._exit(0)


# ------------------------------------------------------------------------ in the caller
def _single_threaded() -> bool:
    """Forking is safe only where no other thread may hold a lock the child would need."""
    return threading.active_count() == 1


def fork_json(source: str, input_shape: Shape | None,
              lim: Limits) -> tuple[bytes | None, int | None]:
    """Fork a child that evaluates ``source`` under ``lim`` (this process must be
    single-threaded: an analysis worker, the CLI); its reply bytes (None if it gave none) and
    its exit status (None when it was killed at the wall-clock limit)."""
    import select
    import signal

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(r)
        _child(w, source, input_shape, lim)
    os.close(w)
    chunks, size, killed = [], 0, False
    deadline = time.monotonic() + lim.wall_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                os.kill(pid, signal.SIGKILL)
                chunks = []
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    code = None if killed else (-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                                else os.WEXITSTATUS(status))
    return (b"".join(chunks) or None), code


def _failure(exitcode: int | None, lim: Limits) -> CodeError:
    import signal

    if exitcode is not None and exitcode < 0 and -exitcode in (signal.SIGXCPU, signal.SIGKILL) \
            and lim.cpu_s < lim.wall_s:
        return CodeError(msg("the code used more than {s} s of CPU time and was stopped",
                             s=lim.cpu_s))
    if exitcode is None:
        return CodeError(msg("the code took longer than {s:g} s and was stopped", s=lim.wall_s))
    return CodeError(msg("evaluating the code crashed its process (exit {code}); nothing else "
                         "was affected — simplify the code (deeply nested values, huge "
                         "comparisons)", code=exitcode))


def _memory_error(lim: Limits) -> CodeError:
    return CodeError(msg("the code needs more than {mb:,} MB of memory to evaluate",
                         mb=lim.memory >> 20))


def run_sandboxed(source: str, input_shape: Shape | None = None,
                  lim: Limits = Limits()) -> dict:
    """:func:`describe_here` in a limited child process; the JSON reply (or CodeError).

    The child is forked from a single-threaded process: this one when it is (an analysis
    worker, the CLI), else (the server, whose sessions are threads) from an analysis worker,
    which sends the reply's bytes back unchanged."""
    if _single_threaded():
        data, code = fork_json(source, input_shape, lim)
    else:
        data, code = workers.call(fork_json, source, input_shape, lim,
                                  timeout=lim.wall_s + 30)
    if data is None:
        raise _failure(code, lim)
    try:
        reply = json.loads(data)
    except ValueError:
        raise _failure(code, lim) from None
    if not isinstance(reply, dict) or not isinstance(reply.get("error", {}), dict):
        raise _failure(code, lim)
    if "error" in reply:
        err = reply["error"]
        if err.get("reason") == "memory":
            raise _memory_error(lim)
        refusal = CodeError(_msg_from_json(err.get("reason")), _int_or_none(err.get("line")),
                            _int_or_none(err.get("col")))
        refusal.settled = True  # the code's own error: the same code gets it again
        raise refusal
    return reply["ok"]


def _int_or_none(v: Any) -> int | None:
    return v if type(v) is int else None


def _plain_template(template: Any) -> bool:
    """A template with plain ``{name}`` / ``{name:spec}`` fields only: it is formatted here,
    and a format string such as ``{x.__class__}`` from elsewhere could read attributes."""
    import string

    if not isinstance(template, str) or len(template) > 2000:
        return False
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError:
        return False
    return all(f.isidentifier() for f in fields)


def _msg_from_json(v: Any) -> str:
    if isinstance(v, dict) and isinstance(v.get("msg"), list):
        parts: list = []
        for p in v["msg"]:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, list) and len(p) == 2 and _plain_template(p[0]):
                fields = tuple((str(k), _msg_from_json(x) if isinstance(x, dict) else x)
                               for k, x in p[1] if type(x) in (str, int, float, bool, dict))
                parts.append((p[0], fields))
            else:
                return msg("the code was refused")
        try:
            made = Msg(tuple(parts))
        except (KeyError, IndexError, ValueError):
            return msg("the code was refused")
        return made if get_lang() == SOURCE_LANG else tr(made)  # as msg() does
    return str(v) if isinstance(v, (str, int, float)) else msg("the code was refused")


# ------------------------------------------------------------------ description ⇄ module
def _description(d: dict, source: str) -> Description:
    sites = []
    for path, (line, span, shared) in d.get("sites", []):
        sites.append((str(path), Site(int(line), tuple(int(x) for x in span) if span else None,
                                      bool(shared))))
    boxed = any(isinstance(n, dict) and n.get("type") == BOX for n in d["nodes"])
    return Description(tuple(d["nodes"]), int(d["root"]), int(d["params"]), int(d["layers"]),
                       tuple(sites), source if boxed else None)


def _decode(v: Any, built: list) -> Any:
    if isinstance(v, dict):
        if set(v) == {"m"} and type(v["m"]) is int and 0 <= v["m"] < len(built):
            return built[v["m"]]
        if set(v) == {"t"} and isinstance(v["t"], list):
            return tuple(_decode(x, built) for x in v["t"])
        raise CodeError(msg("the model's description is damaged"))
    if isinstance(v, list):
        return [_decode(x, built) for x in v]
    return v


def rebuild(desc: Description) -> nn.Module:
    """The module a description describes, built in the current device context by
    ``torch.nn`` constructors only (each call's arguments checked again)."""
    if len(desc.nodes) > limits.MAX_MODULES * 2:
        raise CodeError(msg("the model's description is damaged"))
    built: list[nn.Module] = []
    program = None if desc.source is None else program_of(desc.source)
    for node in desc.nodes:
        name = node.get("type") if isinstance(node, dict) else None
        if name == BOX and program is not None:
            built.append(_rebuild_box(node, program, built))
            continue
        if name not in layer_names():
            raise CodeError(msg("the model's description is damaged"))
        cls = getattr(nn, name)
        if name in _CONTAINERS:
            m = cls()
            for child, ref in node.get("children", []):
                if type(ref) is not int or not 0 <= ref < len(built) or not isinstance(child, str):
                    raise CodeError(msg("the model's description is damaged"))
                m.add_module(child, built[ref])
        else:
            args, raw = _decode(node.get("args", []), built), node.get("kwargs", {})
            if not isinstance(args, list) or not isinstance(raw, dict):
                raise CodeError(msg("the model's description is damaged"))
            kwargs = {str(k): _decode(v, built) for k, v in raw.items()}
            check_layer_call(name, args, kwargs)
            m = cls(*args, **kwargs)
        built.append(m)
    if not 0 <= desc.root < len(built):
        raise CodeError(msg("the model's description is damaged"))
    return built[desc.root]


def _rebuild_box(node: dict, program: Program, built: list) -> BoxModule:
    """An instance of a class of the box: its layers and plain attributes; its methods come
    from the checked source (:func:`~.boxclass.program_of`), never from the description."""
    cls_name, attrs = node.get("class"), node.get("attrs", {})
    if not isinstance(cls_name, str) or not isinstance(attrs, dict):
        raise CodeError(msg("the model's description is damaged"))
    m = new_instance(program, program.cls(cls_name))
    for child, ref in node.get("children", []):
        if type(ref) is not int or not 0 <= ref < len(built) or not isinstance(child, str) \
                or not child.isidentifier():
            raise CodeError(msg("the model's description is damaged"))
        m.add_module(child, built[ref])
    for k, v in attrs.items():
        v = _decode(v, built)
        if not isinstance(k, str) or not (isinstance(v, PLAIN_ATTR) or isinstance(v, tuple) and
                                          all(isinstance(x, PLAIN_ATTR) for x in v)):
            raise CodeError(msg("the model's description is damaged"))
        m.box_attrs[k] = v
    return m


_CACHE_SIZE = 256
_CACHE_BYTES = 32 << 20  # and at most this much description text (a 2,000-layer one: ~0.3 MB)
_cache: OrderedDict[tuple[str, Shape | None], Description] = OrderedDict()
_ERRORS_SIZE = 64
_errors: OrderedDict[tuple, CodeError] = OrderedDict()
_cache_lock = threading.Lock()


def describe(source: str, input_shape: Shape | None = None) -> Description:
    """The model ``source`` describes, evaluated in a sandboxed process (cached per process;
    raises :class:`CodeError`). ``input_shape`` (C, H, W) sizes lazy layers."""
    key = (source, None if input_shape is None else tuple(int(d) for d in input_shape))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        if (key, get_lang()) in _errors:  # the code box shows a refusal twice (message, lines)
            raise _errors[(key, get_lang())]
    try:
        reply = run_sandboxed(*key)
    except CodeError as exc:
        if getattr(exc, "settled", False):
            with _cache_lock:
                _errors[(key, get_lang())] = exc  # its text is in this language
                while len(_errors) > _ERRORS_SIZE:
                    _errors.popitem(last=False)
        raise
    try:
        desc = _description(reply, source)
        with torch.device("meta"):
            rebuild(desc)  # a reply that does not rebuild is refused here, once
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        raise CodeError(msg("the model's description is damaged")) from None
    _remember([(key, desc)])
    return desc


def _remember(items: list) -> None:
    with _cache_lock:
        for key, desc in items:
            _cache[key] = desc
            _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE or (
                len(_cache) > 1 and sum(_size(d) for d in _cache.values()) > _CACHE_BYTES):
            _cache.popitem(last=False)


def _size(d: Description) -> int:
    return len(repr(d.nodes)) + len(repr(d.sites)) + len(d.source or "")


def known_for(*objects: Any) -> list:
    """The descriptions this process holds for the code in ``objects`` (model specs): they
    travel with a job to an analysis worker (:mod:`vizapp.runtime.workers`), so the worker
    rebuilds the model from data instead of evaluating the code a second time."""
    sources = {getattr(getattr(o, "config", None), "code", None) for o in objects}
    sources.discard(None)
    if not sources:
        return []
    with _cache_lock:
        return [(k, d) for k, d in _cache.items() if k[0] in sources]


def prime(items: list) -> None:
    """Take descriptions made by the process that sent this job (see :func:`known_for`)."""
    _remember([(k, d) for k, d in items if isinstance(d, Description)])


workers.carry(known_for, prime)
