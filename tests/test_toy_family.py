"""A family registered at run time appears in the sidebar, the link, the CLI and Compare without
any page module knowing it: the zoo owns every fact about a family (issue: one owner per fact).
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests import toy_family
from tests.test_app import MAIN
from vizapp.zoo import registry


@pytest.fixture
def toy(monkeypatch):
    from vizapp.runtime import workers
    monkeypatch.setattr(workers, "WORKERS", 0)  # the spawned workers do not know the toy
    registry.families()
    registry.register_family(toy_family.FAMILY)
    for p in toy_family.PRESETS:
        registry.register_preset(p)
    yield toy_family
    registry.unregister_family("toy")


def test_registering_a_name_twice_is_an_error(toy):
    other = registry.Family("toy", "Another toy", toy.ToyConfig, toy.build)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_family(other)
    registry.register_family(toy.FAMILY)  # the same family again is no change


def test_toy_in_sidebar_url_and_graph(toy):
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update({"model": "toy-small", "channels": "6"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    family = at.sidebar.selectbox(key="vz.family")
    assert "Toy" in family.options and family.value == "toy"
    assert at.slider(key="vz.k.toy.channels").value == 6  # small range: a slider
    assert not any(w.key == "vz.k.toy.num_classes" for w in at.number_input)  # hidden knob
    at.slider(key="vz.k.toy.kernel").set_value(5).run()
    assert at.query_params["kernel"] in ("5", ["5"])
    assert at.query_params["model"] in ("toy-small", ["toy-small"])
    caption = "\n".join(c.value for c in at.caption)
    # 6·(1·5·5) + 6 = 156 conv parameters, (6·4·4)·10 + 10 = 970 linear ones: 1,126
    assert "1.13 k params" in caption, caption


def test_toy_in_compare_with_its_partner(toy):
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["model"] = "toy-small"
    at.run()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["vs"] in ("toy-big", ["toy-big"])


def test_toy_on_the_command_line(toy, capsys):
    from vizapp.cli import main
    assert main(["table", "toy-small", "--set", "channels=2", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    conv = 2 * 1 * 3 * 3 + 2
    linear = 2 * 6 * 6 * 10 + 10
    assert d["total_params"] == conv + linear
    assert main(["presets"]) == 0
    assert "toy-big" in capsys.readouterr().out.split()
