"""The app's safe server settings, in one place, and the launcher that applies them.

Streamlit reads ``.streamlit/config.toml`` from the working directory (and, since 1.50, from
beside the main script: ``vizapp/.streamlit/config.toml``). So that the settings hold however
the app is started, the launchers pass them as flags (``vizapp app``, ``python -m vizapp``,
``python3 dev.py run``), and ``main.py`` calls :func:`enforce` on every run: it re-applies the
options Streamlit reads at run time and refuses to serve when the server was started listening on
every interface without anyone asking for it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

MAIN = Path(__file__).resolve().parent / "main.py"
# option → safe value; every launcher passes these (later flags from the user win)
SAFE: dict[str, Any] = {
    "server.address": "localhost",  # only this machine (a LAN needs an explicit 0.0.0.0)
    "server.headless": True,
    "server.maxUploadSize": 16,  # MB
    "server.runOnSave": False,
    "browser.gatherUsageStats": False,
    "client.showErrorDetails": "none",  # no traceback, message or type in the browser
    "client.toolbarMode": "minimal",
    # not a safety setting but the server's biggest cost under a class: Streamlit runs a full
    # gc.collect(2) after every script run, 0.2 s with torch, torchvision and plotly loaded
    # (385,000 objects) -- half the server's CPU with 30 sessions (py-spy, bench/load.py).
    # Reference counting frees what a rerun leaves; Python's own generational GC still runs.
    "runner.postScriptGC": False,
}
# options Streamlit reads while serving, so setting them in the running server takes effect
RUNTIME = ("client.showErrorDetails", "server.maxUploadSize", "browser.gatherUsageStats",
           "runner.postScriptGC")
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _flag(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def command(extra: Sequence[str] = (), python: str | None = None) -> list[str]:
    """``python -m streamlit run vizapp/main.py`` with every safe option as a flag, then
    ``extra`` (so ``--server.address 0.0.0.0`` given by the teacher wins)."""
    cmd = [python or sys.executable, "-m", "streamlit", "run", str(MAIN)]
    for key, value in SAFE.items():
        cmd += [f"--{key}", _flag(value)]
    return cmd + list(extra)


ALLOW_CODE_FLAG = "--allow-code"


def launch(extra: Sequence[str] = ()) -> int:
    """Run the app in the foreground with the safe flags.
    ``--allow-code`` (vizapp's own flag, for a server on your own computer only) lets the
    "Your model" box run ``class Net(nn.Module)`` code, which is arbitrary Python.

    On POSIX this process *becomes* streamlit (``os.execve``: same PID, nothing returns), so
    a SIGTERM or SIGINT to it (``kill PID``, systemd, a supervisor, Ctrl-C) reaches the server
    itself; a child process would be left serving the port when only its parent was stopped.
    Elsewhere (Windows has no exec) streamlit runs as a child; its exit code is returned."""
    import os

    env = dict(os.environ)
    extra = list(extra)
    if ALLOW_CODE_FLAG in extra:
        extra.remove(ALLOW_CODE_FLAG)
        from vizapp.custom import ALLOW_ENV

        env[ALLOW_ENV] = "1"
        print("vizapp: --allow-code: model code with classes runs as Python on this computer; "
              "do not share this server with anyone you would not give a shell to.",
              file=sys.stderr)
    cmd = command(extra)
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(cmd[0], cmd, env)  # does not return
    return subprocess.call(cmd, env=env)


def enforce() -> list[str]:
    """Re-apply the run-time options and report what is unsafe about how the server was
    started (empty: all well). An address nobody set means every interface."""
    from streamlit import config

    for key in RUNTIME:
        if config.get_option(key) != SAFE[key]:
            config.set_option(key, SAFE[key])
    problems: list[str] = []
    if config.get_option("global.appTest"):  # AppTest: no server, nothing is bound
        return problems
    address = config.get_option("server.address")
    if not address and not config.is_manually_set("server.address"):
        problems.append("the server listens on every network interface because it was started "
                        "without vizapp's settings")
    return problems


def refusal(problems: Sequence[str]) -> str:
    return ("vizapp will not serve pages: " + "; ".join(problems) + ". Stop it and start it "
            "with `vizapp app` (or `python -m vizapp`, or `streamlit run vizapp/main.py "
            "--server.address localhost`); add `--server.address 0.0.0.0` only to share it on "
            "a LAN on purpose.")
