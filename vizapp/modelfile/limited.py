"""Read an uploaded model file under limits: in a child forked from the (single-threaded)
analysis worker, with an address-space cap, a CPU-time cap and a wall-clock kill, as the code
box's sandbox does. A file that makes the reader blow up costs that child only; the reply is
JSON (the input shape, or the refusal's message as data), never a pickle."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from vizapp import i18n
from vizapp.runtime.fork import limit_self, seal_descriptors

from .errors import FileError

MEMORY = 1 << 30  # bytes the reading child may add to its address space
CPU_S = 20
WALL_S = 30.0
MAX_REPLY = 1 << 16


def _limit_self() -> None:
    limit_self(MEMORY, CPU_S)


def _message_json(text: Any) -> Any:
    """A lazy message as data: its parts, each literal text or (template, fields)."""
    if isinstance(text, i18n.Msg):
        return [p if isinstance(p, str) else [p[0], [[k, v if isinstance(v, (int, float)) else
                                                       str(v)] for k, v in p[1]]]
                for p in text.parts]
    return [str(text)]


def _message(data: Any) -> Any:
    parts = tuple(p if isinstance(p, str) else (str(p[0]), tuple((str(k), v) for k, v in p[1]))
                  for p in data)
    return i18n.Msg(parts)


def _child(fd: int, data: bytes, name: str) -> None:
    from . import MAX_BYTES, read_bytes

    try:
        seal_descriptors(fd)  # no descriptor but the reply pipe reaches anything
        _limit_self()
        try:
            reply: dict = {"ok": list(read_bytes(data, name, MAX_BYTES).input_shape)}
        except FileError as exc:
            reply = {"error": _message_json(exc.args[0] if exc.args else "")}
        except (MemoryError, ImportError):  # under the cap, a library may not even map
            reply = {"memory": True}
        except Exception as exc:  # noqa: BLE001 - a reader bug on a strange file: one line
            reply = {"error": [f"{name}: {type(exc).__name__}: {str(exc)[:200]}"]}
        out = json.dumps(reply).encode("utf-8")
        while out:
            out = out[os.write(fd, out):]
    finally:
        os._exit(0)


def _wait(r: int, pid: int) -> bytes | None:
    import select
    import signal

    chunks, size = [], 0
    deadline = time.monotonic() + WALL_S
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                return None
            chunk = os.read(r, 1 << 16)
            if not chunk:
                return b"".join(chunks) or None
            size += len(chunk)
            if size > MAX_REPLY:
                os.kill(pid, signal.SIGKILL)
                return None
            chunks.append(chunk)
    finally:
        os.close(r)
        os.waitpid(pid, 0)


def read_limited(data: bytes, name: str) -> tuple[int, ...]:
    """The input shape of the uploaded file ``data`` (FileError when it is refused or its
    reading exceeds the limits). Forks only from a single-threaded process (an analysis
    worker); elsewhere it reads in this process."""
    from . import MAX_BYTES, read_bytes

    if threading.active_count() != 1 or not hasattr(os, "fork"):
        return tuple(read_bytes(data, name, MAX_BYTES).input_shape)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(r)
        _child(w, data, name)
    os.close(w)
    raw = _wait(r, pid)
    try:
        reply = json.loads(raw) if raw else None
    except ValueError:
        reply = None
    if isinstance(reply, dict) and isinstance(reply.get("ok"), list):
        return tuple(int(v) for v in reply["ok"])
    if isinstance(reply, dict) and isinstance(reply.get("error"), list):
        raise FileError(_message(reply["error"]))
    raise FileError(i18n.deferred(
        "reading {name} needed more than {mb} MB of memory or {s} s and was stopped: the file "
        "is damaged or too large for this server", name=name, mb=MEMORY >> 20, s=int(WALL_S)))
