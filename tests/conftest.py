"""Fixtures the browser tests share: one real ``streamlit run`` per test module and one
headless Chromium (both skipped with a reason where playwright or chromium is missing)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# what the app keeps across restarts (class exercises) goes to a throwaway folder, never to
# the home directory of whoever runs the tests (servers the tests start inherit it)
os.environ.setdefault("VIZAPP_DATA_DIR", tempfile.mkdtemp(prefix="vizapp-test-data-"))

from vizapp.testing import CHROMIUM, free_port, launch_chromium, start_streamlit, stop_streamlit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(request):
    """URL of a server running the module's ``SERVER_SCRIPT`` (default: the app)."""
    script = getattr(request.module, "SERVER_SCRIPT", ROOT / "vizapp" / "main.py")
    proc = start_streamlit(script, port := free_port())
    yield f"http://127.0.0.1:{port}"
    stop_streamlit(proc)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
