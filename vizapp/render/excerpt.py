"""The lines around an error in the code box, numbered, the error's line marked with ▶ and its
column with ^ (plain text: shown with ``st.code``, never as Markdown)."""

from __future__ import annotations


def excerpt(source: str, line: int | None, col: int | None = None, around: int = 2) -> str:
    """``around`` lines either side of ``line`` (1-based); empty when the line is unknown."""
    lines = source.replace("\u00a0", " ").splitlines()
    if not line or not 1 <= line <= len(lines):
        return ""
    lo, hi = max(1, line - around), min(len(lines), line + around)
    width = len(str(hi))
    out = []
    for n in range(lo, hi + 1):
        mark = "▶" if n == line else " "
        out.append(f"{mark} {n:>{width}} │ {lines[n - 1]}")
        if n == line and col:
            out.append(f"  {' ' * width} │ {' ' * (col - 1)}^")
    return "\n".join(out)
