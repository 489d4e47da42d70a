"""Browser plumbing shared by the end-to-end tests and ``bench/app.py``: a real
``streamlit run`` on a free local port, and Debian's Chromium driven by Playwright.

Only the tests and benchmarks import this; the app does not.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("VIZAPP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(script: Path, port: int, timeout: float = 120.0,
                    poll: float = 0.1, *, log: Path | None = None) -> subprocess.Popen:
    """``streamlit run script`` on 127.0.0.1:port, leading its own process group (see
    :func:`stop_streamlit`); returns once /_stcore/health answers. Raises RuntimeError (with
    the server's last output) if it exits or does not answer. ``log``: its output goes to this
    file (a pipe nobody reads can fill up and stall a long-running server)."""
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    out = open(log, "wb") if log is not None else subprocess.PIPE
    try:
        proc = popen_group(
            [sys.executable, "-m", "streamlit", "run", str(script),
             "--server.port", str(port), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        if log is not None:
            out.close()
    def exited() -> None:
        stop_streamlit(proc)  # what it started, too (they hold its output pipe open)
        text = Path(log).read_bytes() if log is not None else proc.stdout.read()
        raise RuntimeError("streamlit exited: " + text.decode(errors="replace")[-2000:])

    if wait_for_health(proc, port, timeout, exited, poll):
        return proc
    stop_streamlit(proc)
    raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s")


def wait_for_health(proc: subprocess.Popen, port: int, timeout: float,
                    exited: Callable[[], None], poll: float = 0.1) -> bool:
    """True once http://127.0.0.1:port/_stcore/health answers 200 (Streamlit's, or a proxy's
    in front of it); ``exited()`` is called (and should raise) if ``proc`` ends first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            exited()
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(poll)
    return False


def popen_group(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` in a new session, so the process and everything it starts (the
    server's worker processes, a launcher's server) form one group :func:`stop_streamlit`
    stops as a whole, even once the first process is gone."""
    proc = subprocess.Popen(cmd, start_new_session=os.name == "posix", **kwargs)
    proc.vz_pgid = proc.pid if os.name == "posix" else None  # type: ignore[attr-defined]
    return proc


def _own_group(proc: subprocess.Popen) -> int | None:
    """The process group ``proc`` leads, or None."""
    if getattr(proc, "vz_pgid", None):
        return proc.vz_pgid  # type: ignore[attr-defined]
    try:
        pgid = os.getpgid(proc.pid)
    except (OSError, AttributeError):  # reaped already, or no process groups (Windows)
        return None
    return pgid if pgid == proc.pid and pgid != os.getpgrp() else None


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_streamlit(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; when ``proc`` leads its own process group (as
    :func:`start_streamlit` starts it), the whole group: the server's worker processes too,
    so no test leaves a process behind."""
    pgid = _own_group(proc)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if pgid is None:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)  # what is left of the group (it has lost its leader)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while group_alive(pgid) and time.time() < deadline:
        time.sleep(0.1)
    if group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def launch_chromium(playwright):
    """Headless Debian Chromium with the flags this sandboxed, offline machine needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# what "loaded" means in a page's main area: no spinner or skeleton left, every chart drawn
_CONTENT_READY = """() => {
  const main = document.querySelector("[data-testid='stMain']") || document;
  if (!main.querySelector("h1, h2")) return false;
  if (main.querySelector("[data-testid='stSkeleton'], [data-testid='stSpinner']")) return false;
  for (const el of main.querySelectorAll("[data-testid='stPlotlyChart']"))
    if (!el.querySelector(".main-svg")) return false;
  const seen = (el) => {  // shown (not in a hidden tab) and in the viewport
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.top < window.innerHeight && r.bottom > 0;
  };
  for (const el of main.querySelectorAll("[data-testid='stDataFrame']"))  // grids draw lazily
    if (seen(el) && !el.querySelector("canvas")) return false;
  for (const el of main.querySelectorAll("[data-testid='stGraphVizChart']"))
    if (!el.querySelector("svg")) return false;
  for (const el of main.querySelectorAll("[data-testid='vz-graph-viewer']"))
    if (el.getAttribute("data-ready") !== "true") return false;
  for (const el of main.querySelectorAll("[data-testid='stImage'] img"))
    if (!el.complete) return false;
  return true;
}"""


def wait_for_content(page, timeout: int = 120_000, settle_ms: int = 600) -> None:
    """Wait until the app has finished its run and the main area shows content, not loading
    placeholders (spinners, skeletons, charts not yet drawn), then a moment for fonts/layout."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_function(_CONTENT_READY, timeout=timeout)
    page.wait_for_timeout(settle_ms)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_function(_CONTENT_READY, timeout=timeout)


# every control's text that does not fit: an element whose content is wider than its box
# (scrollWidth > clientWidth: an ellipsis, a cut word), a control cut off by a box around it
# that clips, or a button or group of options whose words wrap onto a second line; searched
# in the page and in open shadow roots (the graph viewer's)
_OVERFLOW = """(root) => {
  const CONTROLS = "button, [role='button'], [role='tab'], [role='option'], [role='menuitem'], " +
    "label, [data-testid='stWidgetLabel'], [data-testid='stTopNavLink'], " +
    "[data-testid='stButtonGroup']";
  const ONE_LINE = "button, [role='tab'], [role='option'], [data-testid='stTopNavLink']";
  const scope = root ? document.querySelector(root) : document;
  const found = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none';
  };
  const name = (el) => (el.innerText || el.textContent || '').trim().replace(/\\s+/g, ' ');
  const lines = (el) => {  // distinct line boxes of the element's text
    const range = document.createRange();
    const tops = new Set();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      if (!t.textContent.trim()) continue;
      range.selectNodeContents(t);
      for (const r of range.getClientRects()) if (r.width > 1) tops.add(Math.round(r.top / 6));
    }
    return tops.size;
  };
  const clipper = (el) => {  // the nearest box around el that cuts off what sticks out of it
    for (let a = el.parentElement || (el.getRootNode() && el.getRootNode().host); a;
         a = a.parentElement || (a.getRootNode() && a.getRootNode().host)) {
      if (a === document.body || a.matches("[data-testid='stMain'], [data-testid='stSidebar']"))
        return null;
      if (getComputedStyle(a).overflowX !== 'visible') return a;
    }
    return null;
  };
  const check = (ctl) => {
    if (!visible(ctl)) return;
    const text = name(ctl);
    if (!text) return;
    const info = { text, tag: ctl.tagName, testid: ctl.getAttribute('data-testid') };
    for (const el of [ctl, ...ctl.querySelectorAll('*')]) {
      if (el.clientWidth <= 2 || !visible(el) || el.closest('svg')) continue;
      if (el.scrollWidth > el.clientWidth + 1) {
        found.push({ ...info, what: 'overflow', scroll: el.scrollWidth, client: el.clientWidth });
        return;
      }
    }
    const box = ctl.getBoundingClientRect(), c = clipper(ctl);
    if (c && !ctl.closest('.vz-stage')) {
      const cb = c.getBoundingClientRect();
      if (box.right > cb.right + 1 || box.left < cb.left - 1) {
        found.push({ ...info, what: 'clipped', right: box.right, clip: cb.right });
        return;
      }
    }
    if (ctl.matches("[data-testid='stButtonGroup']")) {
      const tops = new Set([...ctl.querySelectorAll('button')].filter(visible)
        .map((b) => Math.round(b.getBoundingClientRect().top / 6)));
      if (tops.size > 1) found.push({ ...info, what: 'wraps', rows: tops.size });
    } else if (ctl.matches(ONE_LINE) && lines(ctl) > 1) {
      found.push({ ...info, what: 'wraps', lines: lines(ctl) });
    }
  };
  const walk = (node) => {
    node.querySelectorAll(CONTROLS).forEach(check);
    node.querySelectorAll('*').forEach((el) => { if (el.shadowRoot) walk(el.shadowRoot); });
  };
  if (scope) walk(scope);
  return found;
}"""


def overflowing_controls(page, root: str | None = None) -> list[dict]:
    """The controls (buttons, widget labels, options, navigation links; also inside the graph
    viewer) whose text is cut (scrollWidth > clientWidth, or clipped by a box around them) or
    whose one-line text wraps: ``[{"text", "what", "tag", ...}]``, empty when everything
    fits. ``root``: a CSS selector to look under (default: the whole page)."""
    return page.evaluate(_OVERFLOW, root)


def wait_until(fn: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``fn`` every 0.3 s until it returns something true (returned); AssertionError
    naming ``what`` after ``timeout`` seconds."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
