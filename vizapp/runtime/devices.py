"""Which devices can run a forward pass here: CUDA GPUs, Apple MPS, the CPU — best first."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from vizapp.i18n import _, msg


class DeviceError(ValueError):
    """A device that does not exist here; the message lists the ones that do."""


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "cuda:0", "mps", "cpu" (what torch.device takes)
    kind: str  # "cuda" | "mps" | "cpu"
    label: str  # "cuda:0 — NVIDIA H100 80GB HBM3 (79.1 GiB)"
    total_memory: int | None  # bytes (None where unknown)


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def cpu_memory() -> tuple[int | None, int | None]:
    """(total, available) RAM in bytes from /proc/meminfo (None where unreadable)."""
    total = avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key == "MemTotal":
                    total = int(rest.split()[0]) * 1024
                elif key == "MemAvailable":
                    avail = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return total, avail


def available_devices() -> tuple[DeviceInfo, ...]:
    """Every usable device, best first (CUDA GPUs, then MPS, then CPU)."""
    out: list[DeviceInfo] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out.append(DeviceInfo(f"cuda:{i}", "cuda",
                                  f"cuda:{i} — {props.name} ({_gib(props.total_memory)})",
                                  int(props.total_memory)))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(DeviceInfo("mps", "mps", "mps — Apple GPU", None))
    total, _free = cpu_memory()
    cores = os.cpu_count() or 1
    threads = torch.get_num_threads()
    out.append(DeviceInfo("cpu", "cpu", _("cpu — {cores} cores, {threads} torch threads").format(
        cores=cores, threads=threads) + (f", {_gib(total)} RAM" if total else ""), total))
    return tuple(out)


def best_device() -> str:
    return available_devices()[0].name


def resolve_device(name: str | None) -> torch.device:
    """``None``/"auto" → the best device; "cuda" → "cuda:0"; anything unavailable raises
    :class:`DeviceError` naming what is available."""
    devs = available_devices()
    if name is None or str(name).strip().lower() in ("", "auto", "best"):
        return torch.device(devs[0].name)
    s = str(name).strip().lower()
    if s == "cuda":
        s = "cuda:0"
    names = [d.name for d in devs]
    if s not in names:
        why = {"cuda": "no CUDA GPU is visible to PyTorch here",
               "mps": "no Apple MPS device here"}.get(s.split(":")[0], "unknown device name")
        raise DeviceError(msg("device '{name}' is not available ({why}); available: {names}",
                              name=name, why=why, names=", ".join(names)))
    return torch.device(s)


# vendor-published dense peak TFLOP/s (no sparsity) by GPU name: (bf16/fp16 tensor cores, fp32)
PEAK_TFLOPS = (
    ("H200", 989.0, 67.0), ("H100 SXM", 989.0, 67.0), ("H100 NVL", 835.0, 60.0),
    ("H100 PCIe", 756.0, 51.0), ("H100", 756.0, 51.0), ("A100", 312.0, 19.5),
    ("L40S", 362.0, 91.6), ("L4", 121.0, 30.3), ("A10G", 70.0, 31.2), ("A10", 125.0, 31.2),
    ("RTX 4090", 165.0, 82.6), ("RTX 3090", 71.0, 35.6), ("V100", 125.0, 15.7),
    ("T4", 65.0, 8.1),
)


def peak_tflops(device: str, precision: str) -> tuple[str, float] | None:
    """(GPU name, its published dense peak TFLOP/s for ``precision``: bf16/fp16 tensor cores,
    else fp32) for a CUDA device this table knows; None otherwise (CPU, MPS, an unlisted GPU)."""
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    try:
        name = torch.cuda.get_device_name(torch.device(device))
    except (RuntimeError, AssertionError):
        return None
    for key, half, single in PEAK_TFLOPS:
        if key in name:
            return name, half if precision in ("bf16", "fp16", "bfloat16", "float16") else single
    return None
