"""A model file: an ONNX model or a ``torch.export`` program (``.pt2``) that you upload (the
sidebar's "Model file") or name on the command line (``vizapp table model.onnx``).

Its spec carries the file's digest and name, not the bytes: those are kept in the bounded
:mod:`vizapp.modelfile.store` and travel to the worker that analyses them. The analysis comes
from the file's recorded graph (:mod:`vizapp.modelfile`); the file's program is never run, so
the pages that need real tensors (Train, Run, Feature maps, BatchNorm) say why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from vizapp.i18n import msg

from .base import BaseConfig, ConfigError, knob
from .registry import Family, ModelSpec, register_family


@dataclass(frozen=True)
class FileConfig(BaseConfig):
    file_digest: str = knob("", help="The model file's digest (set by the uploader).",
                            label="File")
    file_name: str = knob("", help="The model file's name.", label="File name")
    in_channels: int = knob(3, min=1, max=4096, step=1, group="input",
                            help="Channels of the input image (the file's, by default).")
    num_classes: int = knob(1000, min=1, max=100000, step=1,
                            help="Not used: the file decides the last layer.")

    def own_analysis(self) -> Any:
        """The analysis of the file, for this config's input (the zoo builds a model; a file
        is read instead)."""
        from vizapp.modelfile import FileError, analyze_kept

        if not self.file_digest:
            raise FileError(msg("no model file yet: upload a .onnx or .pt2 file"))
        return analyze_kept(self.file_digest, (self.batch, self.in_channels, self.height,
                                               self.width))


def build(cfg: FileConfig) -> nn.Module:
    """The file's layers rebuilt as torch.nn modules in its graph (fresh seeded weights; the
    file's program never runs); ConfigError when it has ops vizapp has no rule for. In the
    server (threads: its sessions) the file is read in an analysis worker, which sends back
    the built module, initialised from this thread's random state (so ``seed=`` holds)."""
    import threading

    import torch

    from vizapp.runtime import workers

    if not cfg.file_digest:
        raise ConfigError(msg("no model file yet: upload a .onnx or .pt2 file"))
    device = str(torch.empty(()).device)
    if threading.active_count() > 1 and workers.WORKERS > 0:
        return workers.call(build_in_worker, cfg, device, torch.random.get_rng_state())
    return build_in_worker(cfg, device, None)


def build_in_worker(cfg: FileConfig, device: str, rng: Any) -> nn.Module:
    """:func:`build` where the file is read (a worker; or the CLI, single-threaded)."""
    import torch

    from vizapp.modelfile import FileError, build_kept

    try:
        with torch.random.fork_rng(devices=[]), torch.device(device):
            if rng is not None:
                torch.random.set_rng_state(rng)
            return build_kept(cfg.file_digest)
    except FileError as exc:
        raise ConfigError(exc.args[0]) from None


def file_spec(name: str, data: bytes, max_bytes: int | None = None,
              limited: bool = False) -> ModelSpec:
    """Keep ``data`` and return the spec of its model, with the input the file was exported
    for (raises FileError: the file cannot be read). ``limited``: read it in a child process
    under memory, CPU and time caps (an upload, in an analysis worker)."""
    from vizapp import modelfile
    from vizapp.modelfile import store

    if limited:
        from vizapp.modelfile.limited import read_limited

        shape = read_limited(data, name)
    else:
        shape = tuple(modelfile.read_bytes(data, name, max_bytes or modelfile.MAX_BYTES)
                      .input_shape)
    if len(shape) != 4:
        raise modelfile.FileError(msg(
            "{name} takes an input of shape {shape}; the app and the CLI show images "
            "(N×C×H×W): analyse it with vizapp.analyze_file in Python", name=name,
            shape="×".join(map(str, shape))))
    return _spec(store.put(name, data, shape), name, shape)


def _spec(digest: str, name: str, shape: tuple[int, ...]) -> ModelSpec:
    cfg = FileConfig(file_digest=digest, file_name=name, batch=shape[0],
                     in_channels=shape[1], height=shape[2], width=shape[3])
    return ModelSpec("file", cfg, None)


PREFIX = "file:"


def _resolve_name(name: str) -> ModelSpec | None:
    """``file:<digest>`` (a model file's name in links and pickers) → its spec, with the
    input it was exported for, while this server keeps the file (nothing is parsed here)."""
    if not name.startswith(PREFIX):
        return None
    from vizapp.modelfile import store

    key = name[len(PREFIX):]
    kept, shape = store.get(key), store.input_shape(key)
    if kept is None or shape is None:
        raise ConfigError(msg("this server no longer holds the model file {name}: upload it "
                              "again", name=name[:40]))
    return _spec(key, kept[0], shape)


def _name_of(spec: ModelSpec) -> str | None:
    digest = getattr(spec.config, "file_digest", "")
    return PREFIX + digest if digest else None


register_family(Family("file", "Model file", FileConfig, build,
                       "A model file you upload: ONNX (.onnx) or torch.export (.pt2). vizapp "
                       "reads its graph (no code in it runs) and shows it with its arithmetic.",
                       hidden_knobs=("file_digest", "file_name", "num_classes"),
                       resolve_name=_resolve_name, name_of=_name_of))
