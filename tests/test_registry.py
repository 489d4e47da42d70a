"""The zoo registry: loaded once and thread-safely; it owns no family (each family resolves
its own names, ``torchvision:NAME`` included)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from vizapp.zoo import ConfigError, model_names, resolve

ROOT = Path(__file__).resolve().parents[1]

RACE = r"""
import sys, threading, time
from vizapp.zoo import registry
errors = []
def work(delay):
    time.sleep(delay)  # staggered: late threads arrive while the first is still loading
    end = time.time() + 1.0
    while time.time() < end:
        try:
            registry.resolve("densenet")
        except Exception as exc:
            errors.append(repr(exc))
threads = [threading.Thread(target=work, args=(i * 0.002,)) for i in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(errors), errors[:1])
sys.exit(1 if errors else 0)
"""


def test_concurrent_first_resolve_in_a_fresh_process():
    """Before the lock, threads saw half-registered families: "unknown model 'densenet'"."""
    for _ in range(2):  # a fresh interpreter each time: the race is on the first load
        r = subprocess.run([sys.executable, "-c", RACE], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr


def test_registry_never_imports_a_family_module():
    tree = ast.parse((ROOT / "vizapp/zoo/registry.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    src = (ROOT / "vizapp/zoo/registry.py").read_text()
    assert not {"torchvision_ref", "densenet", "resnet"} & imported
    assert "torchvision_ref" not in src and "startswith(\"torchvision:\")" not in src


def test_torchvision_names_resolve_through_their_family():
    spec = resolve("torchvision:resnet18")
    assert spec.family == "torchvision" and spec.config.name == "resnet18"
    assert "torchvision:resnet18" in model_names("torchvision")
    assert "resnet50" in model_names("resnet")
    with pytest.raises(ConfigError, match="no classification model"):
        resolve("torchvision:not_a_model")
    with pytest.raises(ConfigError, match="unknown model"):
        resolve("torchvisio:resnet18")


def test_a_non_text_name_is_a_config_error():
    with pytest.raises(ConfigError):
        resolve(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("name,side", [("vit_h_14", 518), ("inception_v3", 299),
                                       ("vit_b_16", 224), ("resnet18", 224)])
def test_torchvision_models_open_at_their_weights_input_size(name, side):
    """vit_h_14 opened at 518² but was built for 224² ("Expected 224 but got 518")."""
    import torch

    from vizapp.zoo.meta_build import build_meta

    spec = resolve(f"torchvision:{name}")
    assert spec.input_shape == (3, side, side)
    out = build_meta(spec).eval()(torch.empty(1, *spec.input_shape, device="meta"))
    assert tuple(out.shape) == (1, 1000)


def test_a_vit_takes_square_multiples_of_its_patch():
    assert resolve("torchvision:vit_b_16", {"height": "384", "width": "384"}).input_shape[1] == 384
    with pytest.raises(ConfigError, match="multiple of its 14-pixel patches") as ei:
        resolve("torchvision:vit_h_14", {"height": "225", "width": "225"})
    assert ei.value.knob == "height"


def test_a_family_name_opens_its_default_model():
    assert resolve("torchvision").preset == "torchvision:resnet18"
    assert resolve("resnet").preset == "resnet18"
