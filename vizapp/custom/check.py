"""Static check of the code box: parse with ``ast`` and refuse, with the line and the reason,
every construct outside the safe subset before anything runs."""

from __future__ import annotations

import ast

from . import limits


class CodeError(ValueError):
    """Code the box refuses or that fails to build: ``line`` (1-based, or None) and ``reason``."""

    def __init__(self, reason: str, line: int | None = None, col: int | None = None):
        self.reason = reason
        self.line = line
        self.col = col
        where = f"line {line}" + (f", column {col}" if col else "") + ": " if line else ""
        super().__init__(where + reason)
        self.message = str(self)


ALLOWED_NODES = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.For, ast.If, ast.FunctionDef,
    ast.Return, ast.Pass, ast.Break, ast.Continue, ast.arguments, ast.arg, ast.keyword,
    ast.Constant, ast.Name, ast.Load, ast.Store, ast.Attribute, ast.Call, ast.Starred,
    ast.List, ast.Tuple, ast.Dict, ast.Subscript, ast.Slice, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.ListComp, ast.GeneratorExp, ast.DictComp,
    ast.comprehension, ast.JoinedStr, ast.FormattedValue,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context,
)
METHODS = ("add_module", "append", "extend")
FORBIDDEN_NAMES = {"getattr", "setattr", "delattr", "open", "eval", "exec", "compile",
                   "globals", "locals", "vars", "dir", "type", "object", "input", "breakpoint",
                   "help", "memoryview", "super", "classmethod", "staticmethod", "property",
                   "hasattr", "isinstance", "issubclass", "id", "hash", "format", "repr",
                   "chr", "ord", "bytes", "bytearray", "exit", "quit"}
_REFUSALS = {
    ast.Import: "imports are not needed: nn, torch.nn and OrderedDict are already there",
    ast.ImportFrom: "imports are not needed: nn, torch.nn and OrderedDict are already there",
    ast.Lambda: "lambdas are not allowed: define a small function with def instead",
    ast.While: "while loops are not allowed: use a for loop over range(...)",
    ast.Global: "global is not allowed", ast.Nonlocal: "nonlocal is not allowed",
    ast.With: "with blocks are not allowed", ast.Try: "try blocks are not allowed",
    ast.Raise: "raise is not allowed", ast.Delete: "del is not allowed",
    ast.Assert: "assert is not allowed", ast.Yield: "generators (yield) are not allowed",
    ast.Await: "async code is not allowed", ast.AsyncFunctionDef: "async code is not allowed",
    ast.NamedExpr: "the walrus operator := is not allowed",
    ast.SetComp: "sets are not needed to describe a model", ast.Set: "sets are not needed to "
                                                                     "describe a model",
}
CLASS_REFUSAL = ("classes with forward() run arbitrary Python, which this shared app does not "
                 "do: write the model as nn.Sequential(...) (with OrderedDict or add_module for "
                 "names), or start the app on your own computer with `vizapp app --allow-code` "
                 "to allow classes")


def parse(source: str) -> ast.Module:
    """Parse ``source``; CodeError for a syntax error (line and column) or the size caps."""
    if len(source) > limits.MAX_SOURCE_CHARS:
        raise CodeError(f"the code is {len(source):,} characters long; the box takes at most "
                        f"{limits.MAX_SOURCE_CHARS:,}")
    if not source.strip():
        raise CodeError("the box is empty: write a model, e.g. net = nn.Sequential(nn.Flatten(), "
                        "nn.Linear(784, 10))")
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise CodeError(f"syntax error: {exc.msg}", exc.lineno, exc.offset) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise CodeError(f"cannot parse the code ({type(exc).__name__})") from None
    n = sum(1 for _ in ast.walk(tree))
    if n > limits.MAX_AST_NODES:
        raise CodeError(f"the code has {n:,} syntax nodes; the box takes at most "
                        f"{limits.MAX_AST_NODES:,} (write loops instead of long lists)")
    return tree


def has_class(tree: ast.Module) -> ast.ClassDef | None:
    return next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)), None)


def check(tree: ast.Module) -> None:
    """Refuse any node outside the subset (CodeError with its line)."""
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.ClassDef):
            raise CodeError(CLASS_REFUSAL, line)
        for cls, why in _REFUSALS.items():
            if isinstance(node, cls):
                raise CodeError(why, line)
        if not isinstance(node, ALLOWED_NODES):
            raise CodeError(f"{type(node).__name__} is outside what the box accepts (nn layers, "
                            f"lists, for/if, def, OrderedDict, add_module)", line)
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
            raise CodeError("decorators are not allowed", line)
    elif isinstance(node, ast.Attribute):
        _check_attribute(node, line)
    elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = node.format_spec
        if not all(isinstance(v, ast.Constant) for v in getattr(spec, "values", [spec])):
            raise CodeError("f-string format specs must be plain text like {x:03d}", line)


def _check_name(name: str, line: int | None) -> None:
    if name.startswith("_") and name.endswith("_") and len(name) > 1:
        raise CodeError(f"names like {name} (double underscores) are not allowed", line)
    if name.startswith("__"):
        raise CodeError(f"names starting with __ ({name}) are not allowed", line)
    if name in FORBIDDEN_NAMES:
        raise CodeError(f"{name}() is not available in the box: it only builds layers", line)


def _check_attribute(node: ast.Attribute, line: int | None) -> None:
    attr = node.attr
    if attr.startswith("_"):
        raise CodeError(f"attribute .{attr} is not allowed (no names starting with _)", line)
    if attr == "functional" or getattr(node.value, "attr", None) == "functional":
        raise CodeError("nn.functional is not available in the box: use layers such as "
                        "nn.ReLU() or nn.MaxPool2d(2) inside nn.Sequential", line)
    if _is_nn(node.value) or attr in METHODS:
        return
    if isinstance(node.value, ast.Name) and node.value.id == "torch" and attr == "nn":
        return
    raise CodeError(f".{attr} is not allowed: the box only allows nn.<Layer>, "
                    f"torch.nn.<Layer>, .add_module, .append and .extend", line)


def _is_nn(value: ast.expr) -> bool:
    """``nn`` or ``torch.nn``."""
    if isinstance(value, ast.Name):
        return value.id == "nn"
    return (isinstance(value, ast.Attribute) and value.attr == "nn"
            and isinstance(value.value, ast.Name) and value.value.id == "torch")
