"""The "Model file" family's uploader: a ``.onnx`` or ``.pt2`` file, read in an analysis worker
process (never in the server's own thread), becomes the current model. A file that cannot be
read is one message (shown as text) and the app keeps the last good model."""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from vizapp.i18n import _, tr

FAMILY = "file"
UPLOAD_KEY = "vz.model_file"
READ_TIMEOUT_S = 30.0


def _read_in_worker(name: str, data: bytes) -> Any:
    """In a worker: the file's spec, read in a child under memory/CPU/time caps (its bytes
    kept in that worker's store too)."""
    from vizapp.zoo.modelfile import file_spec

    return file_spec(name, data, limited=True)


def read(name: str, data: bytes) -> Any:
    """The spec of an uploaded file, read in a worker (FileError/WorkerTimeout on failure);
    the bytes are then kept here too, for the analyses that follow."""
    from vizapp.modelfile import store
    from vizapp.runtime import workers

    spec = workers.call(_read_in_worker, name, data, timeout=READ_TIMEOUT_S)
    c = spec.config
    store.put(name, data, (c.batch, c.in_channels, c.height, c.width))
    return spec


def on_upload(load: Callable[[Any], None], errors_key: str) -> None:
    """The uploader's callback: load the file's model, or put the reason under the picker."""
    up = st.session_state.get(UPLOAD_KEY)
    if up is None:
        return
    try:
        load(read(up.name, up.getvalue()))
    except Exception as exc:  # noqa: BLE001 - any refusal is one message, never a traceback
        text = tr(getattr(exc, "message", None) or str(exc)) or type(exc).__name__
        st.session_state[errors_key] = {"": _("{file} was not opened: {reason}").format(
            file=up.name, reason=text)}


def draw(spec: Any, load: Callable[[Any], None], errors_key: str) -> None:
    """The uploader, and which file is open."""
    st.file_uploader(_("Model file (.onnx or .pt2)"), type=["onnx", "pt2"], key=UPLOAD_KEY,
                     on_change=on_upload, args=(load, errors_key),
                     help=_("An ONNX model (torch.onnx.export) or a torch.export program "
                            "(torch.export.save), up to 16 MB. vizapp reads its graph; no "
                            "code in the file runs."))
    name = getattr(spec.config, "file_name", "")
    if name:
        st.caption(_("Open: {file}").format(file=name))
    else:
        st.caption(_("No file yet: upload one to see its graph, shapes and arithmetic."))
