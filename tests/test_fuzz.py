"""Fuzzing in the suite (issue 11 item 5): every family's knobs, input sizes and batch — in
bounds, at the bounds, out of bounds, wrong types — through the Python API (a spec or a
ConfigError, nothing else), the CLI contract (a result, or exit 2 and exactly one line on
stderr) and, for a handful of cases, the app (a message, never an exception element).

Deterministic (``derandomize=True``) and bounded: the file runs in well under 90 s."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vizapp.cli import main
from vizapp.zoo import ConfigError, families, format_value, resolve

FAMILIES = sorted(n for n in families() if n != "torchvision")
def fuzz(n: int) -> settings:
    return settings(derandomize=True, deadline=None, database=None, max_examples=n,
                    suppress_health_check=list(HealthCheck))

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "[[[1e400]]]", "0x10", "1,2,3", "[]",
                     "{}", "null", "true", "2x64,1x128", "[[1]]", "ñ", "9" * 50, " ", "-1",
                     "[" * 200, "1.5", "1,,2", "3:64"]),
    st.lists(st.integers(-5, 5000), max_size=5).map(tuple),
    st.recursive(st.integers(-3, 3000), lambda c: st.lists(c, max_size=4).map(tuple),
                 max_leaves=12),
)


@st.composite
def knob_value(draw, family: str | None = None):
    """(family, knob, value): a bound, just past one, an ordinary value or junk."""
    fam = family or draw(st.sampled_from(FAMILIES))
    info = draw(st.sampled_from(families()[fam].config_cls.knobs()))
    k = info.knob
    near = []
    for b in (k.min, k.max):
        if b is not None:
            near += [b, b - 1, b + 1, b * 2 + 1]
    ordinary = [info.default] + ([*k.choices] if k.choices else [])
    pool = st.sampled_from(near + ordinary) if near or ordinary else JUNK
    value = draw(st.one_of(pool, JUNK))
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and \
            abs(value) < 2 ** 53 and draw(st.booleans()):
        value = int(value)
    return fam, info.name, value


def _as_text(value) -> str:
    try:
        return format_value(value)
    except Exception:  # noqa: BLE001 - junk a formatter cannot handle: its repr
        return repr(value)


@fuzz(400)
@given(knob_value(), st.booleans())
def test_python_api_raises_only_config_error(case, as_text):
    fam, knob, value = case
    try:
        spec = resolve(fam, {knob: _as_text(value) if as_text else value})
    except ConfigError as exc:
        assert exc.message and "\n" not in exc.message and len(exc.message) < 400
    else:
        spec.config.validate()


@fuzz(200)
@given(st.sampled_from(FAMILIES),
       st.tuples(*[st.one_of(st.integers(-2, 70), st.sampled_from([0, 4096, 4097, 2 ** 40]))
                   for _ in range(3)]),
       st.one_of(st.integers(-2, 9), st.sampled_from([65536, 65537, 2 ** 40])))
def test_python_api_input_and_batch(fam, chw, batch):
    c, h, w = chw
    try:
        resolve(fam, {"in_channels": c, "height": h, "width": w, "batch": batch})
    except ConfigError:
        pass


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, err.getvalue()


@fuzz(30)
@given(knob_value(), st.sampled_from([None, "x", "0", "2", "1.5", "-3", "99999999999"]),
       st.sampled_from([None, "1,28,28", "3,0,7", "a,b,c", "1,1,1", "1,4097,9"]))
def test_cli_contract(case, batch, inp):
    fam, knob, value = case
    argv = ["table", fam, "--depth", "1", "--set", f"{knob}={_as_text(value)}"]
    if batch is not None:
        argv += ["--batch", batch]
    if inp is not None:
        argv += ["--input", inp]
    code, err = _cli(argv)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)


APP_CASES = [
    {"model": "googlenet", "inception": "0"},
    {"model": "googlenet", "inception": "[[[1e400,[1,1],[1,1],1]]]"},
    {"model": "alexnet", "dropout": "nan"},
    {"model": "resnet", "blocks": "64,64,64,64", "batch": str(2 ** 40)},
    {"model": "lenet", "input": f"1,{2 ** 40},{2 ** 40}", "height": "-1"},
    {"model": "densenet", "growth_rate": "1e400", "compression": "inf"},
]


@pytest.mark.parametrize("query", APP_CASES, ids=lambda q: q["model"])
def test_app_shows_a_message_never_an_exception(query):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "vizapp" / "main.py"),
                           default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("could not be used" in w.value for w in at.warning)  # the link's message
    at.switch_page("app_pages/shapes.py").run()
    assert not at.exception, [e.value for e in at.exception]
