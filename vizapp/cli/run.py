"""``vizapp run PRESET``: time real forward passes on a device (latency, throughput, memory)."""

from __future__ import annotations

import argparse
import json
import sys

from vizapp.i18n import _

from .common import add_model_args, spec_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="time forward passes with real weights on cpu/cuda/mps",
        description="Warm-up, then timed forward passes (CUDA events on GPU): latency p50/p95, "
                    "throughput and peak memory. The batch comes from --batch (the preset's "
                    "otherwise). Batches the memory estimate says cannot fit are refused.")
    add_model_args(p)
    p.add_argument("--device", default="auto",
                   help="cpu, cuda, cuda:N, mps or auto (the best available; default)")
    p.add_argument("--iters", type=int, default=20, metavar="N", help="timed iterations (20)")
    p.add_argument("--warmup", type=int, default=3, metavar="W", help="warm-up passes (3)")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32",
                   help="fp32, or bf16/fp16 autocast")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    p.add_argument("--compile", action="store_true", help="torch.compile the model first")
    p.add_argument("--sweep", metavar="B1,B2,…",
                   help="run each batch size instead of one (e.g. 1,8,32,128)")
    p.add_argument("--no-memory-check", action="store_true",
                   help="run even when the memory estimate says the batch will not fit")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vizapp.runtime import RunError, RunOptions, resolve_device, run_spec, sweep
    from vizapp.runtime.devices import DeviceError

    from .errors import UserError

    if args.iters < 1:
        raise UserError(f"--iters must be at least 1, got {args.iters}")
    if args.warmup < 0:
        raise UserError(f"--warmup must be 0 or more, got {args.warmup}")
    try:
        device = resolve_device(args.device)
    except DeviceError as exc:
        raise UserError(str(exc)) from None
    spec = spec_from_args(args)
    opts = RunOptions(device=str(device), batch=spec.batch, iters=args.iters,
                      warmup=args.warmup, dtype=args.dtype, channels_last=args.channels_last,
                      compile=args.compile, check_memory=not args.no_memory_check)
    try:
        if args.sweep:
            try:
                batches = [int(b) for b in args.sweep.replace(" ", "").split(",") if b]
            except ValueError:
                raise UserError(f"--sweep takes batch sizes like 1,8,32, got '{args.sweep}'")
            if not batches or min(batches) < 1:
                raise UserError("--sweep needs positive batch sizes")
            sw = sweep(spec, opts, batches)
            if args.format == "json":
                json.dump({"model": sw.model, "points": [
                    {"batch": p.batch, "error": p.error,
                     **(_summary(p.result.to_dict()) if p.result else {})}
                    for p in sw.points]}, sys.stdout, indent=2)
                print()
            else:
                for p in sw.points:
                    print(format_result(p.result) if p.result else f"batch {p.batch}: {p.error}")
            return 0
        r = run_spec(spec, opts)
    except RunError as exc:
        raise UserError(str(exc)) from None
    if args.format == "json":
        json.dump(r.to_dict(), sys.stdout, indent=2)
        print()
    else:
        print(format_result(r))
    return 0


def _summary(d: dict) -> dict:
    return {k: d[k] for k in ("device", "iters", "latency_ms_p50", "latency_ms_p95",
                              "throughput", "peak_memory_bytes")}


def format_result(r) -> str:
    from vizapp.fmt import bytes_text

    opts = [r.dtype] + (["channels_last"] if r.channels_last else []) + (
        ["compiled"] if r.compiled else [])
    lines = [_("{model} on {device} ({name}), batch {n}, {opts}: {w} warm-up + {i} timed passes"
               ).format(model=r.model, device=r.device, name=r.device_name, n=r.batch,
                        opts=', '.join(opts), w=r.warmup, i=r.iters),
             "  " + _("latency p50 {p50} ms   p95 {p95} ms   mean {mean} ms").format(
                 p50=f"{r.latency_ms_p50:.3f}", p95=f"{r.latency_ms_p95:.3f}",
                 mean=f"{r.latency_ms_mean:.3f}"),
             "  " + _("throughput {t} samples/s").format(t=f"{r.throughput:,.1f}"),
             "  " + _("peak memory {peak} ({method}); weights {w}").format(
                 peak=bytes_text(r.peak_memory_bytes), method=r.memory_method,
                 w=bytes_text(r.param_bytes))]
    if r.estimate is not None:
        lines.append("  " + _("estimate: {text}").format(text=r.estimate.text()))
    if r.waited_s > 0.01:
        lines.append("  " + _("waited {s} s for the device").format(s=f"{r.waited_s:.2f}"))
    lines += ["  " + _("note: {text}").format(text=n) for n in r.notes]
    return "\n".join(lines)
