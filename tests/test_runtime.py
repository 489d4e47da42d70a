"""Runtime: devices, timed runs on the CPU, memory estimate/refusal, OOM handling, the lock.

CUDA tests are marked ``cuda`` and skip without a GPU. No assertion depends on timing."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch
from torch import nn

from vizapp.cli import main
from vizapp.runtime import (BusyError, DeviceError, DeviceLock, MemoryRefused, OutOfMemory,
                            RunError, RunOptions, available_devices, best_device,
                            estimate_memory, lock_for, resolve_device, run_model, run_spec,
                            stage_memory, sweep)
import vizapp.runtime as F
from vizapp.runtime import memory as memory_module, model_cache, run as run_module
from vizapp.zoo import resolve

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def lenet():
    return resolve("lenet")


# ----------------------------------------------------------------------------- devices
def test_devices():
    devs = available_devices()
    assert devs[-1].name == "cpu" and best_device() == devs[0].name
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device(devs[0].name)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="available: .*cpu"):
            resolve_device("cuda")
    with pytest.raises(DeviceError):
        resolve_device("tpu")


# ----------------------------------------------------------------------------- runs
def test_run_cpu_fields(lenet):
    r = run_spec(lenet, RunOptions(device="cpu", batch=4, iters=5, warmup=1))
    d = r.to_dict()
    for k in ("device", "batch", "iters", "latency_ms_p50", "latency_ms_p95", "throughput",
              "peak_memory_bytes"):
        assert k in d
    assert d["device"] == "cpu" and d["batch"] == 4 and d["iters"] == 5
    assert len(r.latencies_ms) == 5 and all(v > 0 for v in r.latencies_ms)
    assert 0 < r.latency_ms_p50 <= r.latency_ms_p95 <= max(r.latencies_ms)
    assert r.throughput > 0
    assert r.peak_memory_bytes >= r.param_bytes == 4 * 61706  # fp32 weights of LeNet
    assert r.estimate is not None and r.estimate.fits
    json.dumps(d)


def test_percentile_matches_numpy():
    import numpy as np

    v = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0]
    for q in (0, 50, 95, 100):
        assert F.percentile(v, q) == pytest.approx(float(np.percentile(v, q)))


@pytest.mark.parametrize("dtype,cl", [("bf16", True), ("fp32", True)])
def test_run_options_cpu(dtype, cl):
    spec = resolve("resnet18", {"height": "32", "width": "32"})
    r = run_spec(spec, RunOptions(device="cpu", batch=2, iters=2, warmup=1, dtype=dtype,
                                  channels_last=cl))
    assert r.dtype == dtype and r.channels_last == cl and r.throughput > 0


def test_model_cache_is_bounded_and_reused(lenet):
    F.clear_cache()
    dev = torch.device("cpu")
    a = F.cached_model(lenet, dev)
    assert F.cached_model(lenet, dev) is a
    assert not a.training
    for name in ("lenet-bn", "alexnet"):
        F.cached_model(resolve(name, {"height": "64", "width": "64"}) if name == "alexnet"
                       else resolve(name), dev)
    assert len(model_cache._CACHE) <= F.MODEL_CACHE_SIZE
    assert F.cached_model(lenet, dev) is not a  # evicted, rebuilt
    # same seed → same weights after a rebuild
    b = F.cached_model(lenet, dev)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_run_model_generic_module():
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(4)).eval()
    m(torch.zeros(1, 3, 8, 8))
    r = run_model(m, (3, 8, 8), RunOptions(device="cpu", batch=3, iters=3), name="tiny")
    assert r.model == "tiny" and r.batch == 3


def test_sweep(lenet):
    sw = sweep(lenet, RunOptions(device="cpu", iters=2, warmup=1), [4, 1, 2])
    assert [p.batch for p in sw.points] == [1, 2, 4]
    assert all(p.result is not None and p.error is None for p in sw.points)


def test_stage_memory_cpu(lenet):
    stages = stage_memory(lenet, RunOptions(device="cpu", batch=3))
    assert stages[0].name == "conv1" and stages[0].output_shape == (3, 6, 28, 28)
    for s in stages:
        assert s.output_bytes == s.estimate_bytes  # measured tensor bytes = static estimate
        assert s.peak_bytes is None  # only CUDA measures allocations


# ----------------------------------------------------------------------------- memory
def test_estimate_and_refusal(monkeypatch, lenet):
    model = F.cached_model(lenet, torch.device("cpu"))
    est = estimate_memory(model, lenet.input_shape, 8, "fp32", torch.device("cpu"))
    # activation per sample = 3 × the largest leaf output (conv1: 6·28·28 floats) + the input
    assert est.activation_bytes_per_sample == 3 * 6 * 28 * 28 * 4 + 28 * 28 * 4
    assert est.largest_layer == "conv1" and est.param_bytes == 61706 * 4
    # pretend the machine has 1 MiB free: batch 1000 cannot fit and the message names a batch
    monkeypatch.setattr(memory_module, "device_budget", lambda device: 1 << 20)
    with pytest.raises(MemoryRefused) as info:
        run_spec(lenet, RunOptions(device="cpu", batch=1000, iters=1))
    msg = str(info.value)
    per = est.activation_bytes_per_sample
    fits = ((1 << 20) - 0) // per  # weights are resident: they count inside the budget
    want = 1 << (fits.bit_length() - 1)
    assert f"use a batch of {want} or less" in msg and "not run" in msg
    r = run_spec(lenet, RunOptions(device="cpu", batch=want, iters=1, warmup=1))
    assert r.batch == want
    # the check can be switched off
    run_spec(lenet, RunOptions(device="cpu", batch=64, iters=1, check_memory=False))


def test_oom_is_caught_and_memory_released(monkeypatch, lenet):
    released = []
    monkeypatch.setattr(run_module, "release_memory", lambda device: released.append(device))
    model = F.cached_model(lenet, torch.device("cpu"))

    class Exploding(nn.Module):
        def forward(self, x):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20 GiB")

    with pytest.raises(OutOfMemory) as info:
        run_model(Exploding(), lenet.input_shape, RunOptions(device="cpu", batch=512, iters=2))
    msg = str(info.value)
    assert "ran out of memory" in msg and "batch 512" in msg and "released" in msg
    assert "Fix:" in msg and released
    # the lock was released: the next run goes through at once
    r = run_model(model, lenet.input_shape, RunOptions(device="cpu", batch=2, iters=1,
                                                        lock_timeout=1.0))
    assert r.waited_s < 1.0


def test_oom_cli_message(monkeypatch, capsys):
    def boom(*a, **k):
        raise OutOfMemory("cuda:0 ran out of memory running lenet at batch 9; the memory has "
                          "been released.", "use a batch of 4 or less.")

    monkeypatch.setattr(run_module, "run_model", boom)
    assert main(["run", "lenet", "--device", "cpu", "--iters", "1"]) == 2
    err = capsys.readouterr().err
    assert "ran out of memory" in err and "Traceback" not in err


def test_compile_failure_is_a_clear_error(monkeypatch, lenet):
    class Broken(nn.Module):  # what torch.compile returns: a wrapper with _orig_mod
        def __init__(self, m):
            super().__init__()
            self._orig_mod = m

        def forward(self, x):
            raise RuntimeError("backend exploded\nlong trace")

    def bad_compile(model, *a, **k):
        return Broken(model)

    F.clear_cache()
    monkeypatch.setattr(torch, "compile", bad_compile)
    with pytest.raises(RunError, match="torch.compile failed.*backend exploded.*without compile"):
        run_spec(lenet, RunOptions(device="cpu", iters=1, compile=True))
    F.clear_cache()


# ----------------------------------------------------------------------------- lock
def test_lock_serialises_threads_in_order():
    lock = DeviceLock("test")
    active, max_active, order = [0], [0], []
    guard = threading.Lock()

    def worker(i):
        with lock.hold(f"run {i}"):
            with guard:
                active[0] += 1
                max_active[0] = max(max_active[0], active[0])
                order.append(i)
            time.sleep(0.01)
            with guard:
                active[0] -= 1

    threads = []
    for i in range(6):
        t = threading.Thread(target=worker, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.002)  # arrival order
    for t in threads:
        t.join()
    assert max_active[0] == 1 and sorted(order) == list(range(6))
    assert lock.waiting == 0 and not lock.busy


def test_lock_timeout_and_queue():
    lock = DeviceLock("test")
    entered, leave = threading.Event(), threading.Event()

    def holder():
        with lock.hold("long run"):
            entered.set()
            leave.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    entered.wait(5)
    assert lock.busy and lock.holder == "long run"
    with pytest.raises(BusyError, match="busy with long run"):
        with lock.hold("impatient", timeout=0.05):
            pass
    got, cms = [], [lock.hold("patient")]  # keep the context manager alive while held
    waiter = threading.Thread(target=lambda: got.append(cms[0].__enter__()))
    waiter.start()
    deadline = time.monotonic() + 5
    while lock.waiting != 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert lock.waiting == 1  # the abandoned ticket is not counted
    leave.set()
    t.join()
    waiter.join(5)
    assert got and lock.holder == "patient"
    cms[0].__exit__(None, None, None)
    assert not lock.busy and lock.waiting == 0


def test_runs_share_one_lock_per_device(lenet):
    assert lock_for("cuda:0") is lock_for("cuda") is not lock_for("cpu")
    model = F.cached_model(lenet, torch.device("cpu"))
    lock = lock_for("cpu")
    inside, peak = [0], [0]
    real_loop = run_module.timed_loop

    def counting_loop(*a, **k):
        inside[0] += 1
        peak[0] = max(peak[0], inside[0])
        try:
            time.sleep(0.01)
            return real_loop(*a, **k)
        finally:
            inside[0] -= 1

    run_module.timed_loop = counting_loop
    try:
        errors = []

        def go():
            try:
                run_model(model, lenet.input_shape, RunOptions(device="cpu", iters=2))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        ts = [threading.Thread(target=go) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        run_module.timed_loop = real_loop
    assert not errors and peak[0] == 1 and not lock.busy


# ----------------------------------------------------------------------------- CLI
def test_cli_run_json(capsys):
    assert main(["run", "lenet", "--device", "cpu", "--batch", "2", "--iters", "3",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"device", "batch", "iters", "latency_ms_p50", "latency_ms_p95", "throughput",
            "peak_memory_bytes"} <= set(d)
    assert d["batch"] == 2 and d["iters"] == 3 and d["device"] == "cpu"


def test_cli_run_errors(capsys):
    if not torch.cuda.is_available():
        assert main(["run", "lenet", "--device", "cuda", "--batch", "2"]) == 2
        assert "not available" in capsys.readouterr().err
    assert main(["run", "lenet", "--iters", "0"]) == 2
    assert main(["run", "lenet", "--sweep", "1,x"]) == 2
    assert main(["run", "resnet50", "--batch", "65536", "--iters", "1"]) == 2
    assert "use a batch of" in capsys.readouterr().err


def test_cli_run_text_and_sweep(capsys):
    assert main(["run", "lenet", "--device", "cpu", "--iters", "2", "--sweep", "1,2",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [p["batch"] for p in d["points"]] == [1, 2]
    assert main(["run", "lenet", "--device", "cpu", "--iters", "2"]) == 0
    assert "throughput" in capsys.readouterr().out


# ----------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("dtype,cl", [("fp32", False), ("bf16", True), ("fp16", True)])
def test_cuda_run(dtype, cl):
    spec = resolve("resnet18", {"in_channels": "3"})
    r = run_spec(spec, RunOptions(device="cuda", batch=8, iters=5, dtype=dtype,
                                  channels_last=cl))
    assert r.device.startswith("cuda") and r.memory_method == "torch.cuda.max_memory_allocated"
    assert r.peak_memory_bytes > r.param_bytes and r.throughput > 0


@pytest.mark.cuda
@cuda
def test_cuda_stage_memory_and_estimate():
    spec = resolve("resnet18", {"in_channels": "3"})
    stages = stage_memory(spec, RunOptions(device="cuda", batch=16))
    assert all(s.peak_bytes is not None for s in stages)
    assert stages[0].output_bytes == stages[0].estimate_bytes
    r = run_spec(spec, RunOptions(device="cuda", batch=64, iters=2))
    assert r.estimate.total_bytes >= r.peak_memory_bytes * 0.5


@pytest.mark.cuda
@cuda
def test_cuda_real_oom_releases_memory():
    spec = resolve("resnet18", {"in_channels": "3", "height": "512", "width": "512"})
    free, _ = torch.cuda.mem_get_info()
    batch = int(free // (3 * 64 * 256 * 256 * 4)) * 4  # several times what fits
    with pytest.raises((OutOfMemory, MemoryRefused)):
        run_spec(spec, RunOptions(device="cuda", batch=batch, iters=1, check_memory=False))
    after = torch.cuda.memory_allocated()
    assert after < 2 * 1024 ** 3  # only the weights are left
    r = run_spec(spec, RunOptions(device="cuda", batch=2, iters=2))
    assert r.throughput > 0


def test_sweep_respects_its_time_budget_and_reports_progress():
    from vizapp.runtime import RunOptions, sweep

    spec = resolve("lenet")
    seen = []
    sw = sweep(spec, RunOptions(device="cpu", iters=3, warmup=1), [1, 2, 4, 8],
               budget_s=1e-3, on_point=lambda i, n, p: seen.append((i, n, p.batch)))
    assert seen == [(0, 4, 1), (1, 4, 2), (2, 4, 4), (3, 4, 8)]
    assert sw.points[0].result is not None  # the first size always runs (capped)
    assert all(p.result is None and "budget" in p.error for p in sw.points[1:])
