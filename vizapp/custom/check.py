"""Static check of the code box: parse with ``ast`` and refuse, with the line and the reason,
every construct outside the safe subset before anything runs."""

from __future__ import annotations

import ast

from vizapp.i18n import N_, lazy, msg

from . import limits


class CodeError(ValueError):
    """Code the box refuses or that fails to build: ``line`` (1-based, or None) and ``reason``."""

    def __init__(self, reason: str, line: int | None = None, col: int | None = None):
        self.reason = reason
        self.line = line
        self.col = col
        where = ((msg("line {line}, column {col}: ", line=line, col=col) if col else
                  msg("line {line}: ", line=line)) if line else "")
        self.message = where + reason  # a lazy message (shown with tr) when reason is one
        super().__init__(self.message)


ALLOWED_NODES = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.For, ast.If, ast.FunctionDef,
    ast.Return, ast.Pass, ast.Break, ast.Continue, ast.arguments, ast.arg, ast.keyword,
    ast.Constant, ast.Name, ast.Load, ast.Store, ast.Attribute, ast.Call, ast.Starred,
    ast.List, ast.Tuple, ast.Dict, ast.Subscript, ast.Slice, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.ListComp, ast.GeneratorExp, ast.DictComp,
    ast.comprehension, ast.JoinedStr, ast.FormattedValue,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context,
    ast.alias,  # only under an accepted import (a refused one fails first: ast.walk is BFS)
    ast.ClassDef,  # class Net(nn.Module) only: see _check_class
)
# the imports code pasted from d2l or a notebook starts with: accepted, and they change nothing
# (nn, torch.nn, OrderedDict are there already); every other import is refused
NO_OP_IMPORTS = {
    ("import", "torch", None), ("import", "torch.nn", "nn"), ("import", "torch.nn", None),
    ("from torch", "nn", None), ("from torch", "nn", "nn"),
    ("from torch.nn", "functional", "F"), ("import", "torch.nn.functional", "F"),
    ("from collections", "OrderedDict", None),
}


def no_op_import(node: ast.AST) -> bool:
    """``import torch``, ``from torch import nn``, ``from torch.nn import functional as F`` …"""
    if isinstance(node, ast.Import):
        return all(("import", a.name, a.asname) in NO_OP_IMPORTS for a in node.names)
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        return all((f"from {node.module}", a.name, a.asname) in NO_OP_IMPORTS
                   for a in node.names)
    return False
FORBIDDEN_NAMES = {"getattr", "setattr", "delattr", "open", "eval", "exec", "compile",
                   "globals", "locals", "vars", "dir", "type", "object", "input", "breakpoint",
                   "help", "memoryview", "super", "classmethod", "staticmethod", "property",
                   "hasattr", "isinstance", "issubclass", "id", "hash", "format", "repr",
                   "chr", "ord", "bytes", "bytearray", "exit", "quit"}
_REFUSALS = {
    ast.Import: N_("imports are not needed: nn, torch.nn and OrderedDict are already there"),
    ast.ImportFrom: N_("imports are not needed: nn, torch.nn and OrderedDict are already there"),
    ast.Lambda: N_("lambdas are not allowed: define a small function with def instead"),
    ast.While: N_("while loops are not allowed: use a for loop over range(...)"),
    ast.Global: N_("global is not allowed"), ast.Nonlocal: N_("nonlocal is not allowed"),
    ast.With: N_("with blocks are not allowed"), ast.Try: N_("try blocks are not allowed"),
    ast.Raise: N_("raise is not allowed"), ast.Delete: N_("del is not allowed"),
    ast.Assert: N_("assert is not allowed"), ast.Yield: N_("generators (yield) are not allowed"),
    ast.Await: N_("async code is not allowed"),
    ast.AsyncFunctionDef: N_("async code is not allowed"),
    ast.NamedExpr: N_("the walrus operator := is not allowed"),
    ast.SetComp: N_("sets are not needed to describe a model"),
    ast.Set: N_("sets are not needed to describe a model"),
}
CLASS_HELP = N_("a class in the box is class Name(nn.Module) with methods only (__init__, "
               "forward and helpers), no decorators")


def parse(source: str) -> ast.Module:
    """Parse ``source``; CodeError for a syntax error (line and column) or the size caps."""
    if len(source) > limits.MAX_SOURCE_CHARS:
        raise CodeError(msg("the code is {n:,} characters long; the box takes at most "
                            "{max_source_chars:,}", n=len(source),
                            max_source_chars=limits.MAX_SOURCE_CHARS))
    if not source.strip():
        raise CodeError(msg("the box is empty: write a model, e.g. net = "
                            "nn.Sequential(nn.Flatten(), nn.Linear(784, 10))"))
    source = source.replace("\u00a0", " ")  # web pages' non-breaking spaces, as pasted
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise CodeError(msg("syntax error: {msg}", msg=exc.msg), exc.lineno, exc.offset) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise CodeError(msg("cannot parse the code ({type})", type=type(exc).__name__)) from None
    n = sum(1 for _ in ast.walk(tree))
    if n > limits.MAX_AST_NODES:
        raise CodeError(msg("the code has {n:,} syntax nodes; the box takes at most "
                            "{max_ast_nodes:,} (write loops instead of long lists)", n=n,
                            max_ast_nodes=limits.MAX_AST_NODES))
    return tree


def has_class(tree: ast.Module) -> ast.ClassDef | None:
    return next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)), None)


def is_super_init(node: ast.AST) -> bool:
    """``super().__init__()`` or ``super(Net, self).__init__()`` (no arguments to __init__)."""
    if not (isinstance(node, ast.Call) and not node.args and not node.keywords
            and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"):
        return False
    inner = node.func.value
    return (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
            and inner.func.id == "super" and not inner.keywords and len(inner.args) in (0, 2)
            and all(isinstance(a, ast.Name) for a in inner.args))


def _class_parts(tree: ast.Module) -> set[int]:
    """ids of the nodes that are allowed only where a class puts them: its ``__init__``
    method and the ``super().__init__()`` statements in it (names the other rules refuse)."""
    allowed: set[int] = set()
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for f in cls.body:
            if isinstance(f, ast.FunctionDef) and f.name == "__init__":
                allowed.add(id(f))
                for st in f.body:
                    if isinstance(st, ast.Expr) and is_super_init(st.value):
                        allowed.update(id(n) for n in ast.walk(st.value))
    return allowed


def _check_class(node: ast.ClassDef, top: bool) -> None:
    line = node.lineno
    if not top:
        raise CodeError(msg("define classes at the top level of the box, not inside a function "
                            "or another class"), line)
    if len(node.bases) != 1 or node.keywords or node.decorator_list or \
            not (isinstance(node.bases[0], ast.Attribute) and node.bases[0].attr == "Module"
                 and _is_nn(node.bases[0].value)):
        raise CodeError(msg("class {name}: a class in the box extends nn.Module only, e.g. "
                            "class {name}(nn.Module):", name=node.name), line)
    for item in node.body:
        doc = isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant) and \
            isinstance(item.value.value, str)
        if not (isinstance(item, (ast.FunctionDef, ast.Pass)) or doc):
            raise CodeError(lazy(CLASS_HELP), item.lineno)
        if isinstance(item, ast.FunctionDef) and item.decorator_list:
            raise CodeError(msg("decorators are not allowed"), item.lineno)
        if isinstance(item, ast.FunctionDef) and not item.args.args:
            raise CodeError(msg("method {name} needs self as its first parameter",
                                name=item.name), item.lineno)
    forward = next((f for f in node.body if isinstance(f, ast.FunctionDef)
                    and f.name == "forward"), None)
    if forward is not None and (len(forward.args.args) != 2 or forward.args.defaults):
        raise CodeError(msg("forward(self, x) takes one input here (the image batch)"),
                        forward.lineno)


def check(tree: ast.Module) -> None:
    """Refuse any node outside the subset (CodeError with its line)."""
    allowed = _class_parts(tree)
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if id(node) in allowed:
            continue
        if isinstance(node, ast.ClassDef):
            _check_class(node, id(node) in top)
            _check_name(node.name, line)
            continue
        if no_op_import(node):
            continue
        for cls, why in _REFUSALS.items():
            if isinstance(node, cls):
                raise CodeError(lazy(why), line)
        if not isinstance(node, ALLOWED_NODES):
            raise CodeError(msg("{type} is outside what the box accepts (nn layers, lists, "
                                "for/if, def, OrderedDict, add_module)",
                                type=type(node).__name__), line)
        _check_node(node, line)


def _check_node(node: ast.AST, line: int | None) -> None:
    if isinstance(node, ast.Name):
        _check_name(node.id, line)
    elif isinstance(node, ast.arg):
        _check_name(node.arg, line)
    elif isinstance(node, ast.keyword) and node.arg is not None:
        _check_name(node.arg, line)
    elif isinstance(node, ast.FunctionDef):
        _check_name(node.name, line)
        if node.decorator_list:
            raise CodeError(msg("decorators are not allowed"), line)
    elif isinstance(node, ast.Attribute):
        _check_attribute(node, line)
    elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = node.format_spec
        if not all(isinstance(v, ast.Constant) for v in getattr(spec, "values", [spec])):
            raise CodeError(msg("f-string format specs must be plain text like {{x:03d}}"), line)


def _check_name(name: str, line: int | None) -> None:
    if name.startswith("_") and name.endswith("_") and len(name) > 1:
        raise CodeError(msg("names like {name} (double underscores) are not allowed", name=name),
                        line)
    if name.startswith("__"):
        raise CodeError(msg("names starting with __ ({name}) are not allowed", name=name), line)
    if name == "super":
        raise CodeError(msg("super() is allowed only as super().__init__() in __init__"), line)
    if name in FORBIDDEN_NAMES:
        raise CodeError(msg("{name}() is not available in the box: it only builds layers",
                            name=name), line)


def _check_attribute(node: ast.Attribute, line: int | None) -> None:
    """Names starting with ``_`` are refused here; every other attribute is resolved by the
    interpreter, which knows only ``nn.<Layer>``, ``F.<function>``, ``torch.<function>``,
    ``self.<what __init__ made>``, tensor methods and ``.add_module/.append/.extend``."""
    attr = node.attr
    if attr.startswith("_"):
        raise CodeError(msg("attribute .{attr} is not allowed (no names starting with _)",
                            attr=attr), line)


def _is_nn(value: ast.expr) -> bool:
    """``nn`` or ``torch.nn``."""
    if isinstance(value, ast.Name):
        return value.id == "nn"
    return (isinstance(value, ast.Attribute) and value.attr == "nn"
            and isinstance(value.value, ast.Name) and value.value.id == "torch")
