"""Benchmark: vizapp's runtime against a plain hand-written torch loop, same run, same settings.

    python bench/runtime.py                          # resnet18 @ 3×64×64 on the best device
    python bench/runtime.py --model lenet --batch 64 --iters 200
    python bench/runtime.py --device cuda --tflops   # + ResNet-50, batch 256, bf16, NHWC

Both sides time the *same* model object (weights, memory format) on the *same* input, under
the same ``inference_mode`` + autocast and cuDNN settings, with the same warm-up; the plain
loop is ``for _ in range(iters): model(x)`` between two synchronisations. Rounds alternate
(plain, runtime, runtime, plain, …) and the median throughput of each side is compared:
ratio = runtime / plain (target ≥ 0.95).

With ``--tflops`` on CUDA it also reports the achieved TFLOP/s of torchvision's ResNet-50 at
batch 256 in bf16 with channels_last: FLOPs per sample from
``torch.utils.flop_counter.FlopCounterMode`` on meta tensors (= 2 × MACs) × throughput.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from vizapp.runtime import RunOptions, resolve_device, run_model
from vizapp.runtime import cached_model, make_input, precision
from vizapp.runtime.timing import cudnn_benchmark, synchronize
from vizapp.zoo import build_model, resolve


def plain_loop(model, x, iters: int, warmup: int, dtype: str, device) -> float:
    """Samples per second of the simplest honest loop."""
    with cudnn_benchmark(device), torch.inference_mode(), precision(dtype, device):
        for _ in range(max(1, warmup)):
            model(x)
        synchronize(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            model(x)
        synchronize(device)
        dt = time.perf_counter() - t0
    return x.shape[0] * iters / dt


def flops_per_sample(spec) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = build_model(spec).eval()
    x = torch.empty(1, *spec.input_shape, device="meta")
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(x)
    return int(fc.get_total_flops())


def compare(spec, device, batch: int, iters: int, warmup: int, dtype: str, channels_last: bool,
            rounds: int) -> dict:
    model = cached_model(spec, device, channels_last)
    x = make_input(spec.input_shape, batch, device, channels_last)
    opts = RunOptions(device=str(device), batch=batch, iters=iters, warmup=warmup, dtype=dtype,
                      channels_last=channels_last, check_memory=False)
    plain, ours, lat = [], [], []
    for r in range(rounds):
        order = ("plain", "runtime") if r % 2 == 0 else ("runtime", "plain")
        for side in order:
            if side == "plain":
                plain.append(plain_loop(model, x, iters, warmup, dtype, device))
            else:
                res = run_model(model, spec.input_shape, opts, name=spec.label)
                ours.append(res.throughput)
                lat.append(res.latency_ms_p50)
    p, o = statistics.median(plain), statistics.median(ours)
    return {"model": spec.label, "device": str(device), "batch": batch, "iters": iters,
            "dtype": dtype, "channels_last": channels_last, "rounds": rounds,
            "plain_throughput": p, "runtime_throughput": o, "ratio": o / p,
            "runtime_latency_ms_p50": statistics.median(lat),
            "plain_rounds": plain, "runtime_rounds": ours}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--input", default=None, help="C,H,W (default: 3,64,64 on CPU, 3,224,224 "
                                                   "on GPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=None, help="default 8 on CPU, 64 on GPU")
    ap.add_argument("--iters", type=int, default=None, help="default 20 on CPU, 100 on GPU")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tflops", action="store_true",
                    help="CUDA: ResNet-50 batch 256 bf16 channels_last TFLOP/s")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)

    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    inp = args.input or ("3,224,224" if gpu else "3,64,64")
    c, h, w = (s.strip() for s in inp.split(","))
    spec = resolve(args.model, {"in_channels": c, "height": h, "width": w})
    batch = args.batch or (64 if gpu else 8)
    iters = args.iters or (100 if gpu else 20)
    out: dict = {"torch": torch.__version__}
    if gpu:
        out["gpu"] = torch.cuda.get_device_name(device)

    r = compare(spec, device, batch, iters, args.warmup, args.dtype, args.channels_last,
                args.rounds)
    out["compare"] = r
    print(f"{r['model']} {tuple(spec.input_shape)} on {r['device']}, batch {batch}, {iters} "
          f"iters, {args.dtype}{', channels_last' if args.channels_last else ''}, "
          f"{args.rounds} alternating rounds")
    print(f"  plain torch loop : {r['plain_throughput']:12,.1f} samples/s (median)")
    print(f"  vizapp runtime   : {r['runtime_throughput']:12,.1f} samples/s (median)")
    print(f"  ratio runtime/plain = {r['ratio']:.3f}  (target ≥ 0.95)")

    if args.tflops:
        if not gpu:
            print("--tflops: skipped, no CUDA device here")
        else:
            rn = resolve("torchvision:resnet50")
            fps = flops_per_sample(rn)
            t = compare(rn, device, 256, 50, 5, "bf16", True, 3)
            tf = fps * t["runtime_throughput"] / 1e12
            tf_plain = fps * t["plain_throughput"] / 1e12
            out["resnet50"] = {**t, "gflops_per_sample": fps / 1e9, "tflops_runtime": tf,
                               "tflops_plain": tf_plain}
            print(f"ResNet-50 (torchvision) 3×224×224, batch 256, bf16 autocast, channels_last:"
                  f" {fps / 1e9:.2f} GFLOP/sample (2 × MACs, FlopCounterMode on meta)")
            print(f"  runtime {t['runtime_throughput']:,.0f} img/s → {tf:.1f} TFLOP/s;  plain "
                  f"{t['plain_throughput']:,.0f} img/s → {tf_plain:.1f} TFLOP/s;  ratio "
                  f"{t['ratio']:.3f};  p50 {t['runtime_latency_ms_p50']:.1f} ms/batch")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
