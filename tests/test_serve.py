"""The safe server settings hold however the app is started (issue 15 item 1): from another
working directory, by `streamlit run /abs/path/vizapp/main.py` or by the launchers, the server
listens on loopback only and an uncaught error shows no traceback in the browser."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from vizapp import serve
from vizapp.testing import free_port, group_alive, popen_group, stop_streamlit

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _listening(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    out = set()
    for name, fam in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            host, p = local.split(":")
            if state != "0A" or int(p, 16) != port:
                continue
            raw = bytes.fromhex(host)
            if fam == socket.AF_INET:
                raw = raw[::-1]
            else:
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
            out.add(socket.inet_ntop(fam, raw))
    return out


def _start(cmd: list[str], port: int, cwd: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = popen_group(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            stop_streamlit(proc)  # what it started, too
            raise RuntimeError(proc.stdout.read().decode()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    stop_streamlit(proc)
    raise RuntimeError("no answer")


def _assert_loopback(port: int) -> None:
    addrs = _listening(port)
    assert addrs, "nothing listens on the port"
    assert addrs <= {"127.0.0.1", "::1"}, addrs


def test_launcher_passes_every_safe_option_and_lets_the_user_override():
    cmd = serve.command(["--server.address", "0.0.0.0"])
    assert cmd[:5] == [sys.executable, "-m", "streamlit", "run", str(serve.MAIN)]
    for key, value in serve.SAFE.items():
        assert f"--{key}" in cmd
    assert cmd[-2:] == ["--server.address", "0.0.0.0"]  # the teacher's choice comes last
    assert serve.SAFE["client.showErrorDetails"] == "none"


@pytest.mark.parametrize("how", ["streamlit run", "python -m vizapp"])
def test_started_from_elsewhere_it_binds_loopback(tmp_path, how):
    port = free_port()
    if how == "streamlit run":  # no flags at all: only the config beside main.py
        cmd = [sys.executable, "-m", "streamlit", "run", str(serve.MAIN),
               "--server.port", str(port), "--server.fileWatcherType", "none"]
    else:
        cmd = [sys.executable, "-m", "vizapp", "--server.port", str(port),
               "--server.fileWatcherType", "none"]
    proc = _start(cmd, port, str(tmp_path))
    try:
        _assert_loopback(port)
    finally:
        stop_streamlit(proc)


def test_an_uncaught_error_shows_no_traceback(tmp_path):
    """A script beside main.py (so it gets the same config) that raises, run from /tmp."""
    from playwright.sync_api import sync_playwright

    from vizapp.testing import launch_chromium

    script = serve.MAIN.parent / f"_raise_{os.getpid()}.py"
    script.write_text("raise ValueError('secret detail from the server')\n")
    port = free_port()
    try:
        proc = _start([sys.executable, "-m", "streamlit", "run", str(script),
                       "--server.port", str(port), "--server.fileWatcherType", "none"],
                      port, str(tmp_path))
        try:
            _assert_loopback(port)
            with sync_playwright() as p:
                browser = launch_chromium(p)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("[data-testid='stException']", timeout=60_000)
                text = page.inner_text("[data-testid='stApp']")
                browser.close()
        finally:
            stop_streamlit(proc)
    finally:
        script.unlink(missing_ok=True)
    assert "secret detail" not in text and "Traceback" not in text and "ValueError" not in text
    assert "error" in text.lower()


def test_main_refuses_to_serve_on_every_interface_by_accident(monkeypatch):
    from streamlit import config

    monkeypatch.setattr(config, "get_option", lambda key: serve.SAFE.get(key)
                        if key != "server.address" else None)
    monkeypatch.setattr(config, "is_manually_set", lambda key: False)
    monkeypatch.setattr(config, "set_option", lambda key, value: None)
    problems = serve.enforce()
    assert problems and "every network interface" in problems[0]
    assert "vizapp app" in serve.refusal(problems)


def test_vizapp_app_hands_streamlit_options_to_the_launcher(monkeypatch):
    from vizapp.cli import main

    got = []
    monkeypatch.setattr(serve, "launch", lambda extra=(): got.append(list(extra)) or 0)
    assert main(["app", "--server.port", "8502", "--server.address", "0.0.0.0"]) == 0
    assert main(["app"]) == 0
    assert got == [["--server.port", "8502", "--server.address", "0.0.0.0"], []]


def test_config_files_agree_with_the_launchers_options():
    """`streamlit run vizapp/main.py` (config beside the script, from any directory) and the
    launchers (flags) get the same options,
    including no full garbage collection after every rerun (0.2 s each, the server's biggest
    cost with 30 sessions)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the toml package Streamlit itself depends on
        import toml as tomllib

    beside = Path(serve.__file__).parent / ".streamlit" / "config.toml"
    root = Path(serve.__file__).parents[1] / ".streamlit" / "config.toml"
    if root.exists():  # the repository's project-level file sets nothing (one home)
        assert tomllib.loads(root.read_text()) == {}
    conf = tomllib.loads(beside.read_text())
    for key, value in serve.SAFE.items():
        section, name = key.split(".")
        assert conf[section][name] == value, key
    assert serve.SAFE["runner.postScriptGC"] is False and "runner.postScriptGC" in serve.RUNTIME


def _group_members(pgid: int) -> list[str]:
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and os.getpgid(int(d.name)) == pgid:
                out.append((d / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except OSError:
            continue
    return out


def _visit(port: int) -> None:
    """One script run over the websocket, as a browser's: the analysis workers start too."""
    import sys as _sys
    _sys.path.insert(0, str(ROOT / "bench"))
    from load import Session

    async def run():
        async with Session(port, 120) as s:
            return await s.rerun("")
    assert asyncio.run(run()).texts


@pytest.mark.parametrize("how", ["app", "serve"])
def test_sigterm_to_the_launcher_stops_the_server(tmp_path, how):
    """`kill PID` (systemd, a supervisor) on `vizapp app` / `vizapp serve` stops the server:
    the port is free and no process of it is left (none re-parented to PID 1)."""
    port = free_port()
    factory = tmp_path / "mine.py"
    factory.write_text("from torch import nn\ndef make():\n    return nn.Conv2d(3, 4, 3)\n")
    cmd = [sys.executable, "-m", "vizapp", *(["app"] if how == "app" else
                                             ["serve", f"{factory}:make"]),
           "--server.port", str(port), "--server.fileWatcherType", "none"]
    proc = _start(cmd, port, str(tmp_path))  # leads its own process group: pgid == pid
    try:
        if how == "app":
            _visit(port)
        os.kill(proc.pid, signal.SIGTERM)
        deadline = time.time() + 20
        while time.time() < deadline and (group_alive(proc.pid) or _listening(port)):
            proc.poll()  # reap it: a zombie still counts as a member of its group
            time.sleep(0.2)
        assert not _listening(port), "the server still serves the port"
        assert not group_alive(proc.pid), _group_members(proc.pid)
    finally:
        stop_streamlit(proc)
