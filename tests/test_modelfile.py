"""Model files (.pt2 from torch.export, .onnx): the file's analysis equals the in-memory model's,
row by row (shapes, params, MACs, receptive fields), blocks and folds survive, bad files get one
clear message, and nothing in a file is ever executed.

Every file is exported here, at test time, from a model built in this process (nothing is
committed); each format is exported once per model for the whole module."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import vizapp
from vizapp.modelfile import FileError, MAX_BYTES, analyze_bytes, analyze_file
from vizapp.render.dot import fold_label, fold_members
from vizapp.zoo import registry

onnx = pytest.importorskip("onnx")

TORCHVISION = {"resnet18": {}, "densenet121": {},
               "googlenet": {"aux_logits": False, "init_weights": False}}
ZOO = ("lenet", "lenet-bn", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet")


def _export_onnx(model: nn.Module, x: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the TorchScript exporter (dynamo=False needs no onnxscript); PRESERVE keeps
        # BatchNorm as its own node (an eval-mode export folds it into the convolution)
        torch.onnx.export(model, (x,), str(path), dynamo=False,
                          training=torch.onnx.TrainingMode.PRESERVE)


def _export_pt2(model: nn.Module, x: torch.Tensor, path: Path) -> None:
    torch.export.save(torch.export.export(model, (x,)), str(path))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name → (model, input C×H×W, {"pt2": path, "onnx": path})."""
    d = tmp_path_factory.mktemp("modelfiles")
    out = {}
    torch.manual_seed(0)
    models = [(f"tv-{n}", getattr(torchvision.models, n)(**kw), (3, 224, 224))
              for n, kw in TORCHVISION.items()]
    for p in ZOO:
        spec = registry.resolve(p)
        models.append((f"zoo-{p}", registry.build_model(spec), tuple(spec.input_shape)))
    for name, model, shape in models:
        model.eval()
        x = torch.randn((1,) + shape)
        paths = {"pt2": d / f"{name}.pt2", "onnx": d / f"{name}.onnx"}
        _export_pt2(model, x, paths["pt2"])
        _export_onnx(model, x, paths["onnx"])
        out[name] = (model, shape, paths)
    return out


def _rows(a, drop_dropout: bool = False):
    return [(n.output_shape, n.params, n.macs, n.rf) for n in a.nodes
            if n.category not in ("input", "output")
            and not (drop_dropout and n.op == "dropout")]


@pytest.mark.parametrize("name", [f"tv-{n}" for n in TORCHVISION] + [f"zoo-{p}" for p in ZOO])
@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_file_table_equals_in_memory(files, name, fmt):
    model, shape, paths = files[name]
    mem = vizapp.analyze(model, shape)
    got = analyze_file(paths[fmt])
    assert got.failure is None and mem.failure is None
    assert got.input_shape == mem.input_shape
    # an eval-mode ONNX export leaves dropout out (it is the identity there): the in-memory
    # dropout rows are dropped for ONNX, and each was the identity on its input's shape
    if fmt == "onnx":
        assert all(n.output_shape == n.input_shapes[0] and n.params == 0 == n.macs
                   for n in mem.nodes if n.op == "dropout")
    assert _rows(got) == _rows(mem, drop_dropout=fmt == "onnx")
    assert sum(n.params for n in got.nodes) == sum(p.numel() for p in model.parameters())
    assert got.total_macs == mem.total_macs
    assert not any(n.macs_note for n in got.nodes)


def _blocks(a, with_type: bool):
    return [(b.path, b.type if with_type else "", b.params, b.macs, b.output_shape, b.rf)
            for b in a.blocks if b.path]


@pytest.mark.parametrize("name", ["tv-resnet18", "tv-densenet121", "zoo-googlenet"])
def test_blocks_survive(files, name):
    """.pt2 records each module's class (nn_module_stack): the whole block tree is the
    in-memory one, types and repeat keys included; ONNX scopes give the paths (no classes)."""
    model, shape, paths = files[name]
    mem = vizapp.analyze(model, shape)
    pt2 = analyze_file(paths["pt2"])
    assert _blocks(pt2, True) == _blocks(mem, True)
    assert [b.repeat_key for b in pt2.blocks] == [b.repeat_key for b in mem.blocks]
    onnx_a = analyze_file(paths["onnx"])
    drop = {b.path for b in mem.blocks if b.type == "Dropout"}
    assert _blocks(onnx_a, False) == [b for b in _blocks(mem, False) if b[0] not in drop]


def test_resnet152_pt2_folds(tmp_path):
    """Exported on the meta device (no weights to write): the folds of the in-memory model."""
    with torch.device("meta"):
        model = torchvision.models.resnet152().eval()
    path = tmp_path / "resnet152.pt2"
    _export_pt2(model, torch.empty(1, 3, 64, 64, device="meta"), path)
    a = analyze_file(path)
    members = fold_members(a, "layer3.1")
    assert fold_label(a, members).startswith("Bottleneck ×35 · 1024 ch")
    mem = vizapp.analyze(model, (3, 64, 64))
    assert fold_label(a, members) == fold_label(mem, fold_members(mem, "layer3.1"))


def test_cli_table_json_of_a_file(files, capsys):
    from vizapp.cli import main

    model, shape, paths = files["zoo-lenet"]
    for fmt in ("pt2", "onnx"):
        assert main(["table", str(paths[fmt]), "--format", "json", "--depth", "99"]) == 0
        data = json.loads(capsys.readouterr().out)
        mem = vizapp.analyze(model, shape).to_dict(99)
        assert [(r["output_shape"], r["params"], r["macs"]) for r in data["rows"]] == \
            [(r["output_shape"], r["params"], r["macs"]) for r in mem["rows"]]


# --------------------------------------------------------------------------- safety
class _WritesAFile:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _evil_pt2(src: Path, dst: Path, canary: Path, where: str) -> None:
    """``src`` with one pickle replaced by one that creates ``canary`` when unpickled with
    weights_only=False: the sample inputs (torch.export.load retries them with
    weights_only=False) or a weight marked use_pickle."""
    buf = io.BytesIO()
    torch.save((_WritesAFile(str(canary)),), buf)
    evil = buf.getvalue()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if where == "sample" and info.filename.endswith("data/sample_inputs/model.pt"):
                data = evil
            if where == "weight" and info.filename.endswith("model_weights_config.json"):
                cfg = json.loads(data)
                first = next(iter(cfg["config"].values()))
                first["use_pickle"] = True
                weight_file = first["path_name"]
                data = json.dumps(cfg).encode()
            zout.writestr(info, data)
        if where == "weight":
            zout.writestr(info.filename.split("/")[0] + "/data/weights/" + weight_file + "_x",
                          evil)


@pytest.mark.parametrize("where", ["sample", "weight"])
def test_pt2_pickle_is_never_run(files, tmp_path, where):
    _, _, paths = files["zoo-lenet"]
    canary = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pt2"
    _evil_pt2(paths["pt2"], evil, canary, where)
    with pytest.raises(FileError, match="weights_only=False") as err:
        analyze_file(evil)
    assert not canary.exists()
    assert "Traceback" not in str(err.value)
    if where == "sample":  # the payload is live: torch.export.load itself runs it
        code = f"import torch; torch.export.load({str(evil)!r})"
        subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
        assert canary.exists()


# --------------------------------------------------------------------------- bad files
def _tiny_onnx(op: str = "Relu", opset: int = 17, attrs: dict | None = None,
               init=None) -> bytes:
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "conv.weight")
    nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="/conv/Conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c"], ["y"], name=f"/act/{op}", **(attrs or {}))]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [w] + ([init] if init is not None else []))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def test_unknown_onnx_op_is_counted_and_said(tmp_path):
    a = analyze_bytes(_tiny_onnx("Erf"), "erf.onnx")
    assert a.failure is None
    row = next(n for n in a.nodes if "Erf" in n.macs_note)
    assert row.output_shape == (1, 4, 8, 8) and "no rule" in row.macs_note
    assert any("Erf" in note for note in a.notes)
    conv = next(n for n in a.nodes if n.op == "conv2d")
    assert conv.params == 4 * 3 * 9 and conv.macs == 4 * 3 * 9 * 64


def _declared_2gb():
    from onnx import TensorProto

    t = TensorProto(name="big", data_type=TensorProto.FLOAT, dims=[32768, 16384])
    t.raw_data = b"\0" * 16  # 2 GiB declared, 16 bytes held
    return t


def _external():
    from onnx import TensorProto, helper

    t = helper.make_tensor("ext", TensorProto.FLOAT, [4], vals=[0.0] * 4)
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "weights.bin"
    return t


def _bad_files(files) -> dict[str, tuple[bytes, str, str]]:
    pt2 = files["zoo-lenet"][2]["pt2"].read_bytes()
    onx = files["zoo-lenet"][2]["onnx"].read_bytes()
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("notes/readme.txt", "hello")
    damaged = io.BytesIO()  # a valid archive whose program JSON has a node without names
    with zipfile.ZipFile(io.BytesIO(pt2)) as zin, zipfile.ZipFile(damaged, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("models/model.json"):
                program = json.loads(data)
                program["graph_module"]["graph"]["nodes"][0]["inputs"] = [{"arg": {}}]
                data = json.dumps(program).encode()
            zout.writestr(info, data)
    return {
        "damaged program": (damaged.getvalue(), "m.pt2", "graph is not one vizapp can read"),
        "truncated pt2": (pt2[: len(pt2) // 2], "m.pt2", "truncated"),
        "truncated onnx": (onx[: len(onx) // 3], "m.onnx", "truncated"),
        "zip, no program": (plain_zip.getvalue(), "m.pt2", "not a torch.export program"),
        "opset": (_tiny_onnx(opset=99), "m.onnx", "opset 99"),
        "2 GB declared": (_tiny_onnx(init=_declared_2gb()), "m.onnx", "2.0 GiB"),
        "external data": (_tiny_onnx(init=_external()), "m.onnx", "external data"),
        "over the cap": (b"\0" * (MAX_BYTES + 1), "m.onnx", "16 MB"),
        "empty": (b"", "m.onnx", "empty"),
    }


def test_bad_files_one_message_each(files):
    for what, (data, name, words) in _bad_files(files).items():
        with pytest.raises(FileError) as err:
            analyze_bytes(data, name)
        text = str(err.value)
        assert words in text, (what, text)
        assert "Traceback" not in text and "\n" not in text, what


def test_bad_file_on_the_cli_is_one_line(files, tmp_path, capsys):
    from vizapp.cli import main

    p = tmp_path / "truncated.pt2"
    p.write_bytes(files["zoo-lenet"][2]["pt2"].read_bytes()[:5000])
    assert main(["table", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vizapp table: error: truncated.pt2") and "\n" not in err


# --------------------------------------------------------------------------- the file family
def test_file_spec_link_round_trip_and_another_input(files):
    """A file's spec: named file:<digest> (links, pickers), its input the file's; another
    input is worked out by the rules and equals the in-memory model's analysis there."""
    from vizapp.analysis import analyze_spec
    from vizapp.zoo import ConfigError, codec, resolve
    from vizapp.zoo.modelfile import file_spec

    model, shape, paths = files["zoo-resnet18"]
    spec = file_spec("r18.pt2", paths["pt2"].read_bytes(), 64 << 20)
    assert spec.label == "r18.pt2" and spec.input_shape == shape
    bigger = spec.replace(height=shape[1] * 2, width=shape[2] * 2)
    back, messages = codec.from_params(codec.to_params(bigger))
    assert back == bigger and not messages
    assert codec.base_spec(bigger) == spec
    got = analyze_spec(bigger)
    mem = vizapp.analyze(model, (shape[0], shape[1] * 2, shape[2] * 2))
    assert _rows(got) == _rows(mem)
    with pytest.raises(ConfigError, match="no longer holds"):
        resolve("file:" + "0" * 16)


def test_upload_is_read_in_a_limited_child(files, tmp_path):
    """The uploader's path (a single-threaded worker forks a capped child): a good file gives
    the same spec as reading it here; a bad file's message crosses back as data and is still
    a message the reader's language translates."""
    from vizapp.zoo.modelfile import file_spec

    path = files["zoo-lenet"][2]["onnx"]
    script = tmp_path / "child.py"
    script.write_text(
        "import sys, threading\n"
        "from vizapp import i18n\n"
        "from vizapp.modelfile import FileError\n"
        "from vizapp.zoo.modelfile import file_spec\n"
        "d = open(sys.argv[1], 'rb').read()\n"
        "assert threading.active_count() == 1\n"
        "print(file_spec('m.onnx', d, limited=True).input_shape)\n"
        "try:\n"
        "    file_spec('m.onnx', d[:500], limited=True)\n"
        "except FileError as e:\n"
        "    with i18n.using('zh'):\n"
        "        print(type(e.args[0]).__name__, i18n.tr(e.args[0]))\n"
        "import vizapp.modelfile.limited as limited\n"
        "limited.MEMORY = 1 << 20  # 1 MB more than the child starts with: reading needs more\n"
        "try:\n"
        "    file_spec('m.onnx', d, limited=True)\n"
        "except FileError as e:\n"
        "    print(e)\n", encoding="utf-8")
    out = subprocess.run([sys.executable, str(script), str(path)], capture_output=True,
                         text=True, timeout=120, cwd=str(Path(__file__).resolve().parents[1]),
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    lines = out.stdout.strip().splitlines()
    assert lines and lines[0] == str(file_spec("m.onnx", path.read_bytes()).input_shape), \
        out.stderr[-800:]
    assert lines[1].startswith("Msg m.onnx 不是可读取的 ONNX 模型"), out.stdout
    assert lines[2].startswith("reading m.onnx needed more than 1 MB of memory"), out.stdout


@pytest.mark.parametrize("name", ["tv-resnet18", "zoo-lenet-bn", "zoo-densenet"])
def test_core_aten_program_equals_in_memory(files, tmp_path, name):
    """A program after run_decompositions() (core ATen: convolution, the no-training batch
    norm, addmm of a transposed weight, mean for the adaptive pool) reads the same."""
    model, shape, _ = files[name]
    path = tmp_path / "core.pt2"
    ep = torch.export.export(model, (torch.randn((1,) + shape),)).run_decompositions()
    torch.export.save(ep, str(path))
    got, mem = analyze_file(path), vizapp.analyze(model, shape)
    assert not got.notes, got.notes  # no op without a rule
    assert [r[:3] for r in _rows(got)] == [r[:3] for r in _rows(mem)]
    assert [r[3] for r in _rows(got)] == [r[3] for r in _rows(mem)]


def test_file_model_runs_as_rebuilt_layers(files):
    """Where every op has a rule, the file's layers are rebuilt as torch.nn modules that run
    (fresh seeded weights; the file's own program never runs): the forward's shape is the
    analysis's, the parameters are the in-memory model's, and it trains (a backward pass)."""
    from vizapp.analysis import analyze_spec
    from vizapp.modelfile import runnable
    from vizapp.zoo import ConfigError, build_model
    from vizapp.zoo.modelfile import file_spec

    for name in ("zoo-resnet18", "zoo-googlenet"):
        model, shape, paths = files[name]
        for fmt in ("pt2", "onnx"):
            spec = file_spec(f"m.{fmt}", paths[fmt].read_bytes(), 64 << 20)
            assert runnable(analyze_spec(spec))
            net = build_model(spec, seed=0)
            assert sum(p.numel() for p in net.parameters()) == \
                sum(p.numel() for p in model.parameters())
            net.train()
            y = net(torch.randn((2,) + shape))
            assert tuple(y.shape) == (2,) + analyze_spec(spec).output_shape[1:]
            y.square().mean().backward()
            assert all(p.grad is not None for p in net.parameters())
    erf = file_spec("erf.onnx", _tiny_onnx("Erf"))
    assert not runnable(analyze_spec(erf))
    with pytest.raises(ConfigError, match=r"no rule for \(Erf\)"):
        build_model(erf)


@pytest.mark.parametrize("name", ["zoo-resnet18", "zoo-lenet-bn", "zoo-googlenet", "zoo-densenet"])
@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_load_module_computes_what_the_model_computes(files, name, fmt):
    """The rebuilt layers with the file's weights (read as data) compute the in-memory model's
    function: a real forward pass two ways. Fresh weights in the same layers do not."""
    from vizapp.modelfile import load_module
    from vizapp.zoo.modelfile import file_spec
    from vizapp.zoo import build_model

    model, shape, paths = files[name]
    x = torch.randn((2,) + shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(x)
        got = load_module(paths[fmt])(x)
        fresh = build_model(file_spec(f"m.{fmt}", paths[fmt].read_bytes(), 256 << 20),
                            seed=3).eval()(x)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-4), (got - want).abs().max()
    assert not torch.allclose(fresh, want, atol=1e-3)


def test_server_threads_build_a_file_model_in_a_worker(files, monkeypatch):
    """In the server (threads), a file model is read and built in an analysis worker: the
    module that comes back has the weights a seeded build here has."""
    import threading

    from vizapp.runtime import workers
    from vizapp.zoo import build_model
    from vizapp.zoo.modelfile import file_spec

    if workers.WORKERS <= 0:
        pytest.skip("VIZAPP_WORKERS=0: no worker processes")
    calls = []
    real_call = workers.call
    monkeypatch.setattr(workers, "call", lambda fn, *a, **kw: calls.append(fn.__name__) or
                        real_call(fn, *a, **kw))
    model, shape, paths = files["zoo-lenet-bn"]
    spec = file_spec("m.onnx", paths["onnx"].read_bytes())
    here = build_model(spec, seed=0)
    out = {}
    t = threading.Thread(target=lambda: out.update(m=build_model(spec, seed=0)))
    t.start()
    t.join()
    assert calls and calls[-1] == "build_in_worker"  # (the first one too, if the pool's
    # thread was already running in this process)
    assert all(torch.equal(a, b) for a, b in zip(here.state_dict().values(),
                                                   out["m"].state_dict().values()))
