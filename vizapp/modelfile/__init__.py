"""Model files: a ``torch.export`` program (``.pt2``) or an ONNX model (``.onnx``) → the same
analysis records as a model in memory (shapes with their arithmetic, params, MACs, receptive
fields, blocks and folds).

Nothing in a file is executed: :mod:`.pt2` reads the program's JSON (never
``torch.export.load``, which unpickles with ``weights_only=False``), :mod:`.onnx_file` reads the
protobuf with the ``onnx`` package. Both rebuild the layers the file records as modules on the
meta device in a graph (:mod:`.graph`) that the analysis passes take as they take an fx trace.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from vizapp import i18n
from vizapp.analysis.records import Analysis

from .errors import FileError
from .graph import UNKNOWN_NOTE, FileModel
from .store import digest

if TYPE_CHECKING:
    import torch
    from torch import nn

MAX_BYTES = 16 * 1024 * 1024  # the app's upload cap (server.maxUploadSize)
MAX_LOCAL_BYTES = 1024 * 1024 * 1024  # a file of your own, opened from the CLI or Python
SUFFIXES = (".pt2", ".onnx")

__all__ = ["FileError", "FileModel", "MAX_BYTES", "MAX_LOCAL_BYTES", "SUFFIXES", "analyze_bytes",
           "analyze_file", "analyze_kept", "build_kept", "digest", "load_module", "read_bytes",
           "runnable", "unknown_ops"]


def _kind(data: bytes, name: str) -> str:
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".pt2"):
        return "pt2"
    return "onnx"


def _too_big(name: str, size: int, cap: int) -> FileError:
    return FileError(i18n.deferred(
        "{name} is {size} MB, over the {cap} MB a model file may have here: open it with "
        "`vizapp table {name}` on your own machine, or export a smaller model", name=name,
        size=f"{size / 2**20:.1f}", cap=cap // 2**20))


def read_bytes(data: bytes, name: str = "model", max_bytes: int = MAX_BYTES) -> FileModel:
    """A file's bytes → :class:`FileModel` (raises only :class:`FileError`). ``max_bytes``:
    the upload cap unless the file is the caller's own (:func:`analyze_file`)."""
    if len(data) > max_bytes:
        raise _too_big(name, len(data), max_bytes)
    if not data:
        raise FileError(i18n.deferred("{name} is empty", name=name))
    if _kind(data, name) == "pt2":
        from .pt2 import read_pt2

        return read_pt2(data, name)
    from .onnx_file import read_onnx

    return read_onnx(data, name)


def analyze_bytes(data: bytes, name: str = "model", max_bytes: int = MAX_BYTES) -> Analysis:
    """Analyse a model file's bytes (raises only AnalysisError, FileError among them)."""
    from vizapp.analysis import analyze_traced

    fm = read_bytes(data, name, max_bytes)
    return analyze_traced(fm.traced, fm.input_shape, fm.name)


def analyze_file(path: str | os.PathLike, max_bytes: int = MAX_LOCAL_BYTES) -> Analysis:
    """``vizapp.analyze_file("model.onnx" | "model.pt2")`` → the file's Analysis, for the input
    it was exported with. Raises only AnalysisError (FileError: the file cannot be read)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise _too_big(p.name, size, max_bytes)
        data = p.read_bytes()
    except OSError as exc:
        raise FileError(i18n.deferred("cannot read {path}: {error}", path=str(path),
                                      error=exc.strerror or type(exc).__name__)) from None
    return analyze_bytes(data, p.name, max_bytes)


def analyze_kept(key: str, input_shape: tuple[int, ...]) -> Analysis:
    """The analysis of a file kept in :mod:`.store` (by digest), for ``input_shape``
    (N×C×H×W): the file's own input unless the user changed it."""
    from vizapp.analysis import analyze_traced

    name, data = _kept(key)
    fm = read_bytes(data, name, MAX_LOCAL_BYTES)
    return analyze_traced(fm.traced, tuple(input_shape), fm.name)


def _kept(key: str) -> tuple[str, bytes]:
    from .store import get

    kept = get(key)
    if kept is None:
        raise FileError(i18n.deferred(
            "this server no longer holds that model file (it keeps the last few): upload it "
            "again"))
    return kept


def unknown_ops(analysis: Analysis) -> list[str]:
    """The ops of a file's analysis that vizapp has no rule for (sorted, once each)."""
    return sorted({n.macs_note.split(":")[0] for n in analysis.nodes
                   if n.macs_note.endswith(UNKNOWN_NOTE)})


def runnable(analysis: Analysis) -> bool:
    """Whether a file's analysis has only ops with rules: vizapp's rebuilt layers (never the
    file's program) can then run (Train, Run, Feature maps, BatchNorm)."""
    return not unknown_ops(analysis)


def build_kept(key: str) -> "nn.Module":
    """The layers a kept file records, rebuilt as a runnable ``fx.GraphModule`` with fresh
    weights (seeded by the caller, as a zoo model's are) on the current default device (meta
    under ``torch.device("meta")``). Nothing of the file runs: its ops become torch.nn layers
    and torch functions. FileError when it has ops vizapp has no rule for."""
    import torch
    from torch import fx

    name, data = _kept(key)
    fm = read_bytes(data, name, MAX_LOCAL_BYTES)
    if fm.unknown:
        raise FileError(i18n.deferred(
            "{name} has ops vizapp has no rule for ({ops}), so vizapp cannot rebuild it as "
            "layers that run: this page is not available for it", name=name,
            ops=", ".join(sorted(set(fm.unknown)))[:200]))
    return _module(fm, torch.empty(()).device)


def _module(fm: FileModel, device: "torch.device") -> "nn.Module":
    from torch import fx

    gm = fx.GraphModule(fm.model, fm.graph, class_name=type(fm.model).__name__)
    if device.type != "meta":
        gm = gm.to_empty(device=device)
        for m in gm.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return gm


def load_module(path: str | os.PathLike) -> "nn.Module":
    """``vizapp.modelfile.load_module("model.onnx" | "model.pt2")``: the file's layers rebuilt
    as torch.nn modules in its graph, with the file's weights, on the CPU, in eval mode. The
    file's program never runs (weights are read as data). FileError when an op has no rule or
    the file carries no weights (a program exported on the meta device)."""
    import torch

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FileError(i18n.deferred("cannot read {path}: {error}", path=str(path),
                                      error=exc.strerror or type(exc).__name__)) from None
    fm = read_bytes(data, p.name, MAX_LOCAL_BYTES)
    if fm.unknown:
        raise FileError(i18n.deferred(
            "{name} has ops vizapp has no rule for ({ops}), so vizapp cannot rebuild it as "
            "layers that run", name=p.name,
            ops=", ".join(sorted(set(fm.unknown)))[:200]))
    if _kind(data, p.name) == "pt2":
        from .pt2 import weights_of
    else:
        from .onnx_file import weights_of
    tensors = weights_of(data, p.name, fm.weights)
    if not tensors:
        raise FileError(i18n.deferred("{name} carries no weights (a program exported on the "
                                      "meta device?)", name=p.name))
    gm = _module(fm, torch.device("cpu"))
    with torch.no_grad():
        for target, t in tensors.items():
            mod_path, _, attr = target.rpartition(".")
            getattr(gm.get_submodule(mod_path), attr).copy_(t)
    return gm.eval()
