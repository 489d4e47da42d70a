"""One-click fixes that edit the code box's text: the call that built a failing layer is found
through the interpreter's record of call sites, and its argument is rewritten in place (by the
syntax node's position), so everything else the student typed stays as it was."""

from __future__ import annotations

from dataclasses import dataclass

from vizapp.i18n import msg

from .check import CodeError


@dataclass(frozen=True)
class Fix:
    """Replace the text of ``node`` (line/column span) by ``new``; ``label`` names the result."""

    label: str  # "Use nn.Linear(256, 120)"
    line: int
    span: tuple[int, int, int, int]  # lineno, col, end_lineno, end_col (UTF-8 byte columns)
    new: str


def linear_in_features(source: str, module_path: str, features: tuple[int, int],
                       input_shape: tuple[int, ...] | None = None) -> Fix | None:
    """The fix for "Linear expects ``want`` features but gets ``got``": its first argument (or
    ``in_features=``) becomes ``got``. None when the call cannot be found (e.g. a trusted class,
    or a Linear built in a loop that other layers share)."""
    from .sandbox import describe, rebuild

    try:
        desc = describe(source, input_shape)
    except CodeError:
        return None
    site = desc.site(module_path)
    if site is None or site.arg_span is None or site.shared:
        return None  # one call builds several layers (a loop): editing it would change them all
    _, got = features
    import torch
    with torch.device("meta"):
        module = dict(rebuild(desc).named_modules()).get(module_path)
    label = msg("Use nn.Linear({got}, {out})", got=got, out=getattr(module, "out_features", "…"))
    return Fix(label, site.line, site.arg_span, str(got))


def apply(source: str, fix: Fix) -> str:
    """``source`` with ``fix`` applied (columns are UTF-8 byte offsets, as :mod:`ast` gives)."""
    lines = source.splitlines(keepends=True)
    l0, c0, l1, c1 = fix.span
    start = _offset(lines, l0, c0)
    end = _offset(lines, l1, c1)
    return source[:start] + fix.new + source[end:]


def _offset(lines: list[str], lineno: int, col: int) -> int:
    before = sum(len(s) for s in lines[:lineno - 1])
    return before + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "ignore"))
