"""Classes written in the code box (``class Net(nn.Module)`` with ``__init__`` and ``forward``).

A class is data here, never a Python class made from the code: :class:`BoxClass` is its syntax
tree; an instance is a :class:`BoxModule` — an ordinary ``nn.Module`` of vizapp's own whose
``forward`` hands the class's ``forward`` syntax tree to the code box's interpreter
(:mod:`.interp`), which runs it with the whitelisted tensor operations of :mod:`.tensor_ops`.
``__init__`` runs only in the sandbox's child (:mod:`.sandbox`); the server rebuilds the
instance from its description (its layers and plain attributes) and the checked source.

Each class name gets its own subclass of :class:`BoxModule` (``type(name, (BoxModule,), {})``,
no code involved), so the graph's blocks, folds and ``repr`` say ``Residual``, ``Inception``.
"""

from __future__ import annotations

import ast
import contextvars
import difflib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from vizapp.i18n import msg

PLAIN_ATTR = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class BoxClass:
    """A ``class`` statement of the box: its name and methods (syntax trees)."""

    node: ast.ClassDef
    methods: dict = field(hash=False, compare=False)

    @property
    def name(self) -> str:
        return self.node.name

    def __deepcopy__(self, memo: dict) -> "BoxClass":  # syntax trees are never changed
        return self


def box_class(node: ast.ClassDef) -> BoxClass:
    return BoxClass(node, {f.name: f for f in node.body if isinstance(f, ast.FunctionDef)})


@dataclass
class Program:
    """The checked box code the server keeps for the forward passes: its top-level ``def`` s
    and classes (syntax trees only; nothing of it was run here) and the interpreter's entry
    point that runs a method of an instance (``run(obj, name, args)``)."""

    source: str
    tree: ast.Module
    scope: dict[str, Any]  # name -> Function / BoxClass
    run: Callable[[Any, str, list], Any]

    def __deepcopy__(self, memo: dict) -> "Program":  # shared by copies of the model
        return self

    def __reduce__(self):  # a pickled model carries the text and checks it again
        return (_program_again, (self.source,))

    def cls(self, name: str) -> BoxClass:
        found = self.scope.get(name)
        if not isinstance(found, BoxClass):
            from .check import CodeError

            raise CodeError(msg("the model's description is damaged"))
        return found


# the interpreter's program_of (set by :mod:`.interp`, which imports this module)
PROGRAM_OF: list[Callable[[str], Program]] = []


def _program_again(source: str) -> Program:
    return PROGRAM_OF[0](source)


class BoxModule(nn.Module):
    """An instance of a class from the box: its layers are ordinary children, its plain
    attributes (numbers, text) live in ``box_attrs``; ``forward`` is interpreted."""

    def __init__(self, program: Program | None, cls: BoxClass):
        super().__init__()
        self.box_program = program
        self.box_class = cls
        self.box_attrs: dict[str, Any] = {}

    def forward(self, x):  # one input, as d2l's and seed 003's models take
        if self.box_program is None:
            from .check import CodeError

            raise CodeError(msg("the model's description is damaged"))
        return self.box_program.run(self, "forward", [x])

    def __reduce_ex__(self, protocol):  # the class is made at run time: rebuild it by name
        return (_unpickle, (type(self).__name__, self.box_program, self.__dict__.copy()))


def _unpickle(name: str, program: Program, state: dict) -> BoxModule:
    m = box_type(name).__new__(box_type(name))
    m.__dict__.update(state)
    return m


_TYPES: dict[str, type] = {}
_TYPES_LOCK = threading.Lock()


def box_type(name: str) -> type:
    """The ``BoxModule`` subclass named ``name`` (one per name, kept; names are identifiers
    checked by :mod:`.check`)."""
    if not name.isidentifier() or name.startswith("_"):
        from .check import CodeError

        raise CodeError(msg("the model's description is damaged"))
    with _TYPES_LOCK:
        if name not in _TYPES:
            if len(_TYPES) > 10_000:  # names from many students' code: keep the table bounded
                _TYPES.clear()
            _TYPES[name] = type(name, (BoxModule,), {"__module__": __name__})
        return _TYPES[name]


def new_instance(program: Program | None, cls: BoxClass) -> BoxModule:
    return box_type(cls.name)(program, cls)


MODULE_NAMES = frozenset(dir(nn.Module)) | {"training", "box_program", "box_class", "box_attrs"}


def set_attribute(obj: BoxModule, name: str, value: Any) -> None:
    """``self.name = value`` in ``__init__``: a layer becomes a child, a number or text (or a
    tuple of them) an attribute; anything else is refused."""
    from .check import CodeError

    if name in MODULE_NAMES:
        raise CodeError(msg("self.{name} is part of nn.Module itself: choose another name",
                            name=name))
    if isinstance(value, nn.Module):
        obj.box_attrs.pop(name, None)
        obj.add_module(name, value)
        return
    if isinstance(value, PLAIN_ATTR) or isinstance(value, tuple) and all(
            isinstance(v, PLAIN_ATTR) for v in value):
        if name in obj._modules:
            del obj._modules[name]
        obj.box_attrs[name] = value
        return
    if isinstance(value, list) and any(isinstance(v, nn.Module) for v in value):
        raise CodeError(msg("self.{name} = [...] of layers is not registered by PyTorch (its "
                            "parameters would not train): use nn.ModuleList([...]) or "
                            "nn.Sequential(...)", name=name))
    raise CodeError(msg("self.{name} may hold a layer, a number, text or a tuple of them",
                        name=name))


def get_attribute(obj: BoxModule, name: str, bound: Any) -> Any:
    """``self.name``: a child layer, a plain attribute, ``training`` or a method (made with
    ``bound(obj, node)``)."""
    from .check import CodeError

    if name in obj._modules:
        return obj._modules[name]
    if name in obj.box_attrs:
        return obj.box_attrs[name]
    if name == "training":
        return obj.training
    if name in obj.box_class.methods and name != "__init__":
        return bound(obj, obj.box_class.methods[name])
    known = [*obj._modules, *obj.box_attrs]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    cls = type(obj).__name__
    if close:
        raise CodeError(msg("{cls} has no attribute '{name}': its __init__ made {known} — did "
                            "you mean self.{hint}?", cls=cls, name=name,
                            known=", ".join(known), hint=close[0]))
    raise CodeError(msg("{cls} has no attribute '{name}' (its __init__ made: {known})", cls=cls,
                        name=name, known=", ".join(known) or "—"))


# the interpreter that runs the outermost forward of this thread: nested box modules share its
# step budget (one forward pass, however many classes it goes through)
CURRENT = contextvars.ContextVar("vizapp_box_forward", default=None)
