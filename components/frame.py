"""One pass per rerun: the frame resolves the session's model spec and fetches its analysis
once, then hands both to the header, the sidebar's code box and the page.

``main.py`` calls :func:`begin` after the sidebar has produced the spec; the page scripts
(``vizapp/app_pages/*.py``, run by ``st.navigation`` inside the same script run) receive it
through :func:`current`. A page never resolves the spec or fetches the same analysis again.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from vizapp.zoo import ModelSpec

from . import state


@dataclass(frozen=True)
class Frame:
    """What this rerun shows: the spec and its analysis in the session's language (None when it
    could not be made; the reason was shown once, where :func:`begin` was called)."""

    spec: ModelSpec
    analysis: Any


_CURRENT: contextvars.ContextVar[Frame | None] = contextvars.ContextVar("vizapp_frame",
                                                                         default=None)


def begin(spec: ModelSpec) -> Frame:
    """This rerun's frame: the analysis of ``spec`` fetched once (a message if it fails)."""
    frame = Frame(spec, state.get_analysis(spec))
    _CURRENT.set(frame)
    return frame


def current() -> Frame:
    """The frame :func:`begin` made in this rerun (a page script run by ``st.navigation``)."""
    frame = _CURRENT.get()
    if frame is None:  # a page opened outside main.py's frame (never in the app)
        frame = begin(state.current_spec())
    return frame
