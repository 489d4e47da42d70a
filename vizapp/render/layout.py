"""Lay out DOT text into SVG or PNG on the server, in a subprocess with a time limit.

The engine is a system Graphviz ``dot`` when one is on ``PATH``; otherwise the
``graphviz-pure`` program that the ``graphviz-pure`` pip package installs next to the Python
interpreter (a self-contained port of Graphviz: no system package needed). Set
``VIZAPP_DOT`` to a program path to force one.

Errors are typed so the app can react: :class:`LayoutTimeout` and :class:`GraphTooBig` mean
"offer the collapsed view", :class:`EngineNotFound` means "install graphviz-pure".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["layout", "engine", "engine_name", "LayoutError", "LayoutTimeout", "GraphTooBig",
           "EngineNotFound", "FORMATS", "DEFAULT_TIMEOUT", "MAX_DOT_BYTES"]

FORMATS = ("svg", "png")
DEFAULT_TIMEOUT = 20.0  # seconds
MAX_DOT_BYTES = 8_000_000  # refuse to even start on absurd inputs


class LayoutError(RuntimeError):
    """The layout engine failed (bad DOT, crash)."""


class LayoutTimeout(LayoutError):
    """The layout did not finish within the time limit: the graph is too big for this view."""

    def __init__(self, seconds: float, engine: str) -> None:
        super().__init__(f"graph layout took longer than {seconds:g} s ({engine}); "
                         "collapse some blocks or lower the depth")
        self.seconds = seconds
        self.engine = engine


class GraphTooBig(LayoutError):
    """The graph is larger than the limit given; lower the depth or collapse blocks."""


class EngineNotFound(LayoutError):
    """Neither a system ``dot`` nor ``graphviz-pure`` could be found."""


@lru_cache(maxsize=1)
def engine() -> tuple[str, ...]:
    """The command that runs the layout engine: ``VIZAPP_DOT``, else a system ``dot``, else
    ``graphviz-pure`` (next to this Python, or on ``PATH``)."""
    forced = os.environ.get("VIZAPP_DOT")
    if forced:
        return (forced,)
    dot = shutil.which("dot")
    if dot:
        return (dot,)
    here = Path(sys.executable).parent
    for cand in (here / "graphviz-pure", here / "graphviz-pure.exe"):
        if cand.exists():
            return (str(cand),)
    gp = shutil.which("graphviz-pure")
    if gp:
        return (gp,)
    raise EngineNotFound("no Graphviz layout engine: install the pip package 'graphviz-pure' "
                         "(pip install graphviz-pure) or a system Graphviz")


def engine_name() -> str:
    try:
        return Path(engine()[0]).name
    except EngineNotFound:
        return "none"


def layout(dot: str, fmt: str = "svg", timeout: float = DEFAULT_TIMEOUT,
           max_bytes: int = MAX_DOT_BYTES, dpi: int | None = None) -> bytes:
    """Run the layout engine on ``dot`` and return the ``fmt`` bytes (``svg`` or ``png``).

    Raises :class:`LayoutTimeout` after ``timeout`` seconds (the engine process is killed),
    :class:`GraphTooBig` when the DOT text is over ``max_bytes``, :class:`EngineNotFound`,
    or :class:`LayoutError` with the engine's message."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    data = dot.encode("utf-8")
    if len(data) > max_bytes:
        raise GraphTooBig(f"the graph description is {len(data) / 1e6:.1f} MB "
                          f"(limit {max_bytes / 1e6:.1f} MB); lower the depth")
    cmd = [*engine(), "-q", f"-T{fmt}"]
    if dpi and fmt == "png":
        cmd.append(f"-Gdpi={int(dpi)}")
    name = Path(cmd[0]).name
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise LayoutTimeout(timeout, name) from exc
    except OSError as exc:
        raise EngineNotFound(f"cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LayoutError(f"{name} failed (exit {proc.returncode}): "
                          + (msg[0] if msg else "no output"))
    return proc.stdout


def layout_result(dot: str, fmt: str = "svg", timeout: float = DEFAULT_TIMEOUT,
                  dpi: int | None = None) -> tuple[bytes | None, str | None, bool]:
    """:func:`layout` as plain values that cross a process boundary: (output or None, the
    error message or None, whether it timed out) — for the app's worker processes."""
    try:
        kw = {"dpi": dpi} if dpi is not None else {}
        return layout(dot, fmt, timeout=timeout, **kw), None, False
    except LayoutTimeout as exc:
        return None, str(exc), True
    except LayoutError as exc:
        return None, str(exc), False
