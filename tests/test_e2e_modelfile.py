"""The sidebar's "Model file" family in a real browser: upload a .pt2 (ResNet-50, exported here
on the meta device) and see its graph with folded Bottlenecks and its Shapes table; Train and
Run say why a file cannot be run; a truncated file is one message and the model stays; an ONNX
file (the zoo's DenseNet, exported here) replaces it. Screenshots (1280×720) go to
artifacts/screenshots/modelfile_*.png."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest
import torch
import torchvision

from vizapp.testing import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytest.importorskip("onnx")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    from vizapp.zoo import registry

    d = tmp_path_factory.mktemp("upload")
    with torch.device("meta"):
        r50 = torchvision.models.resnet50().eval()
    torch.export.save(torch.export.export(r50, (torch.empty(1, 3, 224, 224, device="meta"),)),
                      str(d / "resnet50.pt2"))
    spec = registry.resolve("densenet")
    dense = registry.build_model(spec).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(dense, (torch.randn(1, *spec.input_shape),), str(d / "densenet.onnx"),
                          dynamo=False, training=torch.onnx.TrainingMode.PRESERVE)
    from test_modelfile import _tiny_onnx

    (d / "erf.onnx").write_bytes(_tiny_onnx("Erf"))
    data = (d / "densenet.onnx").read_bytes()
    (d / "broken.onnx").write_bytes(data[: len(data) // 3])
    return d


def _settle(page, timeout: int = 120_000) -> None:
    time.sleep(0.5)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)


def _app_text(page) -> str:
    return page.locator("[data-testid='stApp']").inner_text()


def _upload(page, path: Path) -> None:
    page.locator("[data-testid='stSidebar'] input[type='file']").set_input_files(str(path))
    _settle(page)


def _nav(page, title: str) -> None:
    page.locator("[data-testid='stTopNavLink'], a").filter(has_text=title).first.click()
    _settle(page)


def _graph_texts(page) -> list[str]:
    sel = "[data-testid='vz-graph-viewer'] svg text, [data-testid='stGraphVizChart'] svg text"
    page.wait_for_selector(sel, timeout=120_000)
    return [t.strip() for t in page.locator(sel).all_text_contents()]


def test_upload_pt2_then_pages_then_bad_file_then_onnx(server, browser, model_files):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(server + "/", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stApp']", timeout=120_000)
    _settle(page)
    page.get_by_role("combobox", name="Family").first.click()
    page.get_by_role("option", name="Model file").click()
    _settle(page)
    _upload(page, model_files / "resnet50.pt2")
    texts = _graph_texts(page)
    assert any(t.startswith("Bottleneck ×") for t in texts), texts
    assert "resnet50.pt2" in _app_text(page)
    page.screenshot(path=str(SHOTS / "modelfile_graph_resnet50_pt2.png"))

    _nav(page, "Shapes")
    body = _app_text(page)
    assert "layer1" in body and "25,557,032" in body.replace("\u202f", ",")  # ResNet-50's params
    page.screenshot(path=str(SHOTS / "modelfile_shapes_resnet50_pt2.png"))

    _nav(page, "Compare")  # B is the same file until another model is picked
    body = _app_text(page)
    assert body.count("resnet50.pt2") >= 2 and "Could not analyse" not in body, body[-1500:]
    page.screenshot(path=str(SHOTS / "modelfile_compare.png"))

    for title in ("Train", "Run", "BatchNorm"):  # vizapp's rebuilt layers run (not the file)
        _nav(page, title)
        body = _app_text(page)
        assert "not available" not in body and "could not be shown" not in body, body[-1500:]
        assert "Traceback" not in body
    page.screenshot(path=str(SHOTS / "modelfile_batchnorm_resnet50_pt2.png"))
    _nav(page, "Code")
    assert "has no Python source" in _app_text(page)

    _nav(page, "Graph")
    _upload(page, model_files / "broken.onnx")
    body = _app_text(page)
    assert "broken.onnx was not opened" in body and "truncated" in body, body[:1500]
    assert "Traceback" not in body
    page.screenshot(path=str(SHOTS / "modelfile_broken_onnx.png"))

    _upload(page, model_files / "densenet.onnx")
    texts = _graph_texts(page)
    body = _app_text(page)
    assert "densenet.onnx" in body and "was not opened" not in body
    assert any("Block" in t or "DenseBlock" in t for t in texts) or len(texts) > 10, texts
    page.screenshot(path=str(SHOTS / "modelfile_graph_densenet_onnx.png"))

    _upload(page, model_files / "erf.onnx")  # an op without a rule: no runnable layers
    _nav(page, "Run")
    body = _app_text(page)
    assert "has ops vizapp has no rule for (Erf)" in body and "Traceback" not in body, body[-800:]
    page.screenshot(path=str(SHOTS / "modelfile_run_says_why_not.png"))
    page.close()
