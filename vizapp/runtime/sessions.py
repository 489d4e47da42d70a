"""Is the browser session that started a piece of work still there?

A training runs in a background thread for minutes; when the student closes the tab, it
should stop instead of holding the device for the others. Streamlit's runtime knows which
sessions have a live websocket (``Runtime.is_active_session``, safe from any thread, a dict
lookup). A session that loses its connection is kept for a while so a reconnect (a network
blip, a laptop waking up) can resume it, so :class:`SessionWatch` only says "gone" after
the session has been inactive for ``grace_s`` seconds in a row.

Streamlit is imported lazily, and only by :func:`current_session_watch`; without a running
Streamlit server (the CLI, AppTest, plain Python) there is no session to watch (``None``).
"""

from __future__ import annotations

import os
import time
from typing import Callable

# inactive this long in a row: the session is gone (the browser test sets a few seconds)
GRACE_S = float(os.environ.get("VIZAPP_SESSION_GRACE_S", "30"))


class SessionWatch:
    """``watch()`` is True while the session is active or has been inactive for less than
    ``grace_s`` seconds in a row; False after that (and it stays False)."""

    def __init__(self, is_active: Callable[[], bool], grace_s: float = GRACE_S,
                 clock: Callable[[], float] = time.monotonic):
        self.is_active, self.grace_s, self.clock = is_active, float(grace_s), clock
        self.inactive_since: float | None = None
        self.gone = False

    def __call__(self) -> bool:
        if self.gone:
            return False
        try:
            active = bool(self.is_active())
        except Exception:  # noqa: BLE001 - a runtime that is shutting down: not active
            active = False
        if active:
            self.inactive_since = None
            return True
        now = self.clock()
        if self.inactive_since is None:
            self.inactive_since = now
        self.gone = now - self.inactive_since >= self.grace_s
        return not self.gone


def current_session_watch(grace_s: float | None = None) -> SessionWatch | None:
    """A watch on the Streamlit session whose script is running in this thread, or None when
    there is no Streamlit runtime or no session (CLI, tests)."""
    try:
        from streamlit import runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:
        return None
    if not runtime.exists():
        return None
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return None
    rt, sid = runtime.get_instance(), ctx.session_id
    return SessionWatch(lambda: rt.is_active_session(sid), GRACE_S if grace_s is None else grace_s)
