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
                    poll: float = 0.1, *, new_session: bool = False,
                    log: Path | None = None) -> subprocess.Popen:
    """``streamlit run script`` on 127.0.0.1:port; returns once /_stcore/health answers.
    Raises RuntimeError (with the server's last output) if it exits or does not answer.

    ``new_session``: the server leads its own process group, so :func:`stop_streamlit` stops
    it and its analysis workers together. ``log``: its output goes to this file (a pipe
    nobody reads can fill up and stall a long-running server)."""
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    out = open(log, "wb") if log is not None else subprocess.PIPE
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script),
             "--server.port", str(port), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=new_session)
    finally:
        if log is not None:
            out.close()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            text = Path(log).read_bytes() if log is not None else proc.stdout.read()
            raise RuntimeError("streamlit exited: " + text.decode(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(poll)
    stop_streamlit(proc)
    raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s")


def stop_streamlit(proc: subprocess.Popen) -> None:
    """Stop the server (SIGTERM, SIGKILL after 10 s); one started with ``new_session`` is
    stopped with its whole process group (its worker processes too), nothing left behind."""
    if _leads_group(proc):
        stop_group(proc)
    else:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _leads_group(proc: subprocess.Popen) -> bool:
    try:
        return os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        return False


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the process group ``proc`` leads (started with ``start_new_session=True``),
    SIGKILL to whatever of it is left after ``grace`` seconds; waits for ``proc``."""
    def signal_group(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    signal_group(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    signal_group(signal.SIGKILL)  # children that outlived the leader, or a leader that hung
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
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
