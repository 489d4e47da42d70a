"""Your own builder from Python: ``vizapp.show`` (a report from a script) and ``vizapp serve
file.py:factory`` (the app on it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import vizapp
from vizapp.cli import main
from vizapp.zoo import ConfigError
from vizapp.zoo import yourfile

ROOT = Path(__file__).resolve().parents[1]
FACTORY = '''
from torch import nn
def make():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 4))
'''


@pytest.fixture()
def factory_file(tmp_path) -> Path:
    p = tmp_path / "mine.py"
    p.write_text(FACTORY)
    return p


def test_show_writes_a_report_of_the_model(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 3))
    out = vizapp.show(model, (1, 28, 28), path=tmp_path / "r.html", open_browser=False)
    text = out.read_text()
    a = vizapp.analyze(model, (1, 28, 28))
    assert f"{a.total_params:,}" in text and "<svg" in text and "Linear" in text
    assert "http://" not in text.replace("http://www.w3.org", "")  # nothing to fetch


def test_factory_builds_through_the_family_and_fails_in_one_line(factory_file, monkeypatch):
    monkeypatch.setenv(yourfile.ENV, f"{factory_file}:make")
    model = yourfile.build(yourfile.YourFileConfig())
    assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 4)
    for target, why in ((f"{factory_file}:nope", "defines no function"),
                        ("/nonexistent/x.py:make", "cannot read"), ("x.txt", "expected")):
        with pytest.raises(ConfigError, match=why):
            yourfile.load_factory(target)


def test_serve_refuses_a_bad_target_in_one_line(capsys):
    assert main(["serve", "/nonexistent/file.py:make", "--server.port", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read" in err[0]


@pytest.mark.parametrize("extra", [[], ["--server.port", "1"]], ids=["alone", "with options"])
def test_serve_says_why_a_file_that_exits_is_refused(tmp_path, monkeypatch, capsys, extra):
    """A file that calls sys.exit() when loaded, or a factory that does, is a one-line user
    error (exit 2) naming the cause and the fix, not a silent exit with the file's code."""
    monkeypatch.setattr("vizapp.serve.launch", lambda extra=(): pytest.fail("launched"))
    script = tmp_path / "script.py"
    script.write_text("import sys\nfrom torch import nn\ndef make():\n    return nn.ReLU()\n"
                      "sys.exit(3)\n")
    quits = tmp_path / "quits.py"
    quits.write_text("def make():\n    raise SystemExit(4)\n")
    for target, words in ((f"{script}:make", ("exit(3)", "__main__")),
                          (f"{quits}:make", ("make() called exit(4)", "return the model"))):
        assert main(["serve", target, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and all(w in err[0] for w in words), err


@pytest.mark.parametrize("extra", [[], ["--server.port", "1"]], ids=["alone", "with options"])
@pytest.mark.parametrize("target", ["good.py", "good.py:"])
def test_serve_without_a_function_names_the_form(tmp_path, monkeypatch, capsys, target, extra):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.py").write_text(FACTORY)
    assert main(["serve", target, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "FILE.py:FUNCTION" in err[0] and "good.py:make" in err[0], err
    assert f"{tmp_path}:" not in err[0] and str(tmp_path) not in err[0], err


@pytest.mark.e2e
def test_serve_opens_the_app_on_the_factory_model(factory_file):
    sys.path.insert(0, str(ROOT / "bench"))
    from load import Session

    from vizapp.testing import free_port, popen_group, stop_streamlit

    port = free_port()
    proc = popen_group([sys.executable, "-m", "vizapp", "serve", f"{factory_file}:make",
                        "--server.port", str(port), "--server.fileWatcherType", "none"],
                       cwd="/", env=dict(os.environ), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    try:
        async def visit():
            for _ in range(120):
                try:
                    async with Session(port, 120) as s:
                        return await s.rerun("")
                except OSError:
                    await asyncio.sleep(0.5)
            raise TimeoutError("the server did not start")
        run = asyncio.run(visit())
        assert run.texts and not run.errors
        assert any(b"yourfile" in t or b"output 4" in t for t in run.texts)
    finally:
        stop_streamlit(proc)  # its whole process group: the server and its workers
