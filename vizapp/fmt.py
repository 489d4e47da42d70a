"""One home for how numbers and shapes are written, everywhere a person reads them (tables,
graph labels, the header, the CLI, explanations). Nothing else in vizapp formats a count, a
shape or a byte size."""

from __future__ import annotations

from typing import Sequence


def human(n: float | int | None, unit: str = "") -> str:
    """Three significant digits with an SI suffix: ``11_689_512`` → ``"11.7 M"``,
    ``1_818_558_464`` → ``"1.82 G"``, ``850`` → ``"850"``; None → ``"—"``."""
    if n is None:
        return "—"
    n = float(n)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            v = n / div
            digits = 2 if abs(v) < 10 else 1 if abs(v) < 100 else 0
            return f"{v:.{digits}f} {suffix}{unit}"
    return f"{int(n):,}{(' ' + unit) if unit else ''}"


def count(n: int) -> str:
    """An exact count with thousands separators: ``11689512`` → ``"11,689,512"``."""
    return f"{int(n):,}"


def shape_text(shape: Sequence[int] | None, batch: bool = False) -> str:
    """``(1, 64, 56, 56)`` → ``"64×56×56"`` (batch dropped) or ``"1×64×56×56"`` with
    ``batch=True``; a 1-D shape keeps its only dim; None or empty → ``"?"``."""
    if not shape:
        return "?"
    dims = tuple(shape) if batch or len(shape) == 1 else tuple(shape[1:])
    return "×".join(str(int(d)) for d in dims) if dims else "scalar"


def hw_text(a: Sequence[int]) -> str:
    """A per-axis pair: ``(3, 3)`` → ``"3"``, ``(1, 7)`` → ``"1×7"``."""
    return f"{a[0]}" if a[0] == a[-1] else f"{a[0]}×{a[-1]}"


def bytes_text(n: float | None) -> str:
    """A byte size in binary units: ``512`` → ``"512 B"``, ``1536`` → ``"1.5 KiB"``,
    ``3 << 29`` → ``"1.5 GiB"`` (up to TiB); None (not measured) → ``"?"``."""
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
