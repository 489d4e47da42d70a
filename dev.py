#!/usr/bin/env python3
"""One entry point for the README's two commands (standard library only).

    python3 dev.py run    # set up .venv if needed, then open the app (vizapp app: safe settings)
    python3 dev.py test   # set up .venv if needed, then run the whole test suite

Set-up creates ``.venv`` beside this file and installs the project with its test extra; it is
repeated only when pyproject.toml changes. Extra arguments go to streamlit / pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".vizapp-installed"


def _say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def setup() -> None:
    if sys.version_info < (3, 10):
        sys.exit("vizapp needs Python 3.10 or newer (you have %s)" % sys.version.split()[0])
    if not PY.exists():
        _say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == want:
        return
    _say("installing vizapp and its dependencies into .venv (PyTorch is the big one)")
    subprocess.check_call([str(PY), "-m", "pip", "install", "--disable-pip-version-check",
                           "-q", "-e", f"{ROOT}[test]"])
    STAMP.write_text(want)


def run(args: list[str]) -> int:
    setup()
    # vizapp.serve passes the safe settings (localhost, no tracebacks, upload cap) as flags
    cmd = [str(PY), "-m", "vizapp", "app", *args]
    _say(" ".join(cmd))
    if os.name == "posix":  # become the server: a SIGTERM to this PID stops it, no orphan left
        sys.stdout.flush()
        os.chdir(ROOT)
        os.execv(cmd[0], cmd)
    return subprocess.call(cmd, cwd=ROOT)


def test(args: list[str]) -> int:
    setup()
    cmd = [str(PY), "-m", "pytest", *args]
    _say(" ".join(cmd))
    return subprocess.call(cmd, cwd=ROOT)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test", "setup"):
        print(__doc__)
        return 2
    what, rest = sys.argv[1], sys.argv[2:]
    if what == "setup":
        setup()
        return 0
    return run(rest) if what == "run" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
