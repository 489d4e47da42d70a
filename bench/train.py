"""Benchmark: the Train lab's loop against a plain hand-written PyTorch loop, same run.

    python bench/train.py                 # CPU figures (+ CUDA ResNet-18 when a GPU is visible)
    python bench/train.py --rounds 7 --epochs 3

1. Throughput: LeNet-BN on the digits at 1×28×28, batch 64, SGD lr 0.9, on the same data,
   the same batch order (``vizapp.labs.train.epoch_order``) and the same device. The lab's
   side is ``train()`` with everything it records (step records, BatchNorm snapshots,
   percentiles of the watched layer); its images/s is the training phase of each epoch (the
   validation pass, reported separately by both, is excluded on both sides). The plain side
   is ``for idx in batches: loss = CE(model(x[idx]), y[idx]); zero_grad; backward; step``.
   Rounds alternate (plain, lab, lab, plain, …); medians are compared: ratio = lab / plain
   (target ≥ 0.95).
2. Time to 95 % validation accuracy: LeNet-BN on the digits with Adam (lr 0.01, batch 32),
   wall time from the call to the first epoch whose validation accuracy is ≥ 95 % (target
   ≤ 10 s on a 2-core CPU); the data loading is timed separately.
3. On CUDA: torchvision-style ResNet-18 (the zoo's resnet18 preset) at 3×32×32, batch 256,
   bf16 autocast + channels_last, trained by the lab on generated shapes: images/s and
   achieved TFLOP/s, FLOPs of one training step (forward + backward) counted by
   ``torch.utils.flop_counter.FlopCounterMode``.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import torch
import torch.nn.functional as F

from vizapp.labs import data as D
from vizapp.labs import train as T
from vizapp.runtime import resolve_device
from vizapp.runtime.timing import synchronize
from vizapp.zoo import build_model, resolve


def plain(model, ds: D.DataSet, epochs: int, batch: int, lr: float, seed: int, device):
    """Images per second of the simplest honest training loop (training phase only)."""
    model = model.to(device).train()
    x, y = ds.x_train.to(device), ds.y_train.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    ranges = T.batches(len(y), batch)
    seconds, seen = 0.0, 0
    for e in range(epochs):
        order = T.epoch_order(len(y), seed, e).to(device)
        synchronize(device)
        t0 = time.perf_counter()
        total = torch.zeros((), device=device)
        for a, b in ranges:
            idx = order[a:b]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        float(total)  # the plain loop reads its loss once per epoch
        seconds += time.perf_counter() - t0
        seen += sum(b - a for a, b in ranges)
    return seen / seconds


def lab(model, ds: D.DataSet, epochs: int, batch: int, lr: float, seed: int, device) -> float:
    r = T.train(model, ds, T.TrainSettings(lr=lr, batch_size=batch, epochs=epochs, seed=seed,
                                           device=str(device)))
    assert r.status == "done", r.message
    return sum(e.seconds * e.images_per_s for e in r.epochs) / sum(e.seconds for e in r.epochs)


def throughput(args, device) -> None:
    ds = D.digits((1, 28, 28), 10, seed=0)
    spec = resolve("lenet-bn")
    sides = {"plain": [], "lab": []}
    fns = {"plain": plain, "lab": lab}
    for _ in range(2):  # warm-up (allocator, thread pools)
        plain(build_model(spec, seed=0), ds, 1, args.batch, 0.9, 0, device)
    for i in range(args.rounds):
        for side in (("plain", "lab") if i % 2 == 0 else ("lab", "plain")):
            m = build_model(spec, seed=0)
            sides[side].append(fns[side](m, ds, args.epochs, args.batch, 0.9, 0, device))
    p, l_ = statistics.median(sides["plain"]), statistics.median(sides["lab"])
    print(f"[throughput] LeNet-BN, digits 1×28×28, batch {args.batch}, SGD, {args.epochs} "
          f"epoch(s) × {args.rounds} rounds on {device}:")
    print(f"  plain loop   {p:10,.0f} images/s (median; rounds: "
          f"{', '.join(f'{v:,.0f}' for v in sides['plain'])})")
    print(f"  Train lab    {l_:10,.0f} images/s (median; rounds: "
          f"{', '.join(f'{v:,.0f}' for v in sides['lab'])})")
    print(f"  ratio lab/plain = {l_ / p:.3f}   (target ≥ 0.95)")


def time_to_95(device) -> None:
    t0 = time.perf_counter()
    ds = D.digits((1, 28, 28), 10, seed=0)
    t_data = time.perf_counter() - t0
    stop, hit = threading.Event(), []
    t0 = time.perf_counter()

    def emit(r) -> None:
        if isinstance(r, T.EpochRecord) and r.val_acc >= 0.95 and not hit:
            hit.append((r.epoch, r.val_acc, time.perf_counter() - t0))
            stop.set()

    r = T.train(build_model(resolve("lenet-bn"), seed=0), ds,
                T.TrainSettings(optimizer="adam", lr=0.01, batch_size=32, epochs=30,
                                device=str(device)), stop=stop, emit=emit)
    print(f"[time to 95 %] LeNet-BN on digits, Adam lr 0.01, batch 32, on {device} "
          f"(data loaded in {t_data:.2f} s):")
    if hit:
        e, acc, s = hit[0]
        print(f"  val accuracy {100 * acc:.1f}% after epoch {e}: {s:.2f} s wall   "
              f"(target ≤ 10 s)")
    else:
        print(f"  never reached 95 % in {len(r.epochs)} epochs ({r.message})")


def resnet18_cuda(args) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    device = torch.device("cuda")
    spec = resolve("resnet18", {"in_channels": 3, "height": 32, "width": 32,
                                "num_classes": 10})
    ds = D.shapes((3, 32, 32), 10, n=20_000, seed=0)
    model = build_model(spec, seed=0).to(device).to(memory_format=torch.channels_last)
    xb = ds.x_train[:args.gpu_batch].to(device).contiguous(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as fc:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            F.cross_entropy(model(xb).float(), ds.y_train[:args.gpu_batch].to(device)).backward()
    flops_per_image = fc.get_total_flops() / args.gpu_batch
    r = T.train(build_model(spec, seed=0), ds,
                T.TrainSettings(lr=0.1, momentum=0.9, batch_size=args.gpu_batch, epochs=3,
                                device="cuda", precision="bf16"))
    ips = statistics.median(e.images_per_s for e in r.epochs[1:] or r.epochs)
    print(f"[cuda] ResNet-18 (zoo preset) 3×32×32, batch {args.gpu_batch}, bf16 autocast + "
          f"channels_last, on {torch.cuda.get_device_name(0)}:")
    print(f"  {ips:,.0f} images/s (median of epochs 2–3), {flops_per_image / 1e9:.2f} GFLOP "
          f"per image (fwd+bwd) → {ips * flops_per_image / 1e12:.1f} TFLOP/s; "
          f"val acc {100 * r.epochs[-1].val_acc:.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--gpu-batch", type=int, default=256)
    ap.add_argument("--device", default="cpu", help="device of parts 1–2 (default cpu)")
    args = ap.parse_args()
    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    throughput(args, device)
    time_to_95(device)
    if torch.cuda.is_available():
        resnet18_cuda(args)
    else:
        print("[cuda] no CUDA device here: ResNet-18 images/s and TFLOP/s not measured")


if __name__ == "__main__":
    main()
