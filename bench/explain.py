"""Benchmark: one click on *Inside a layer* (``vizapp.labs.explain.explain``) against a plain
forward pass to that layer, same model, same input, same run.

    python bench/explain.py                      # resnet50 @ 3×224×224, CPU
    python bench/explain.py --model resnet18 --input 1,96,96 --rounds 9

The plain pass is what any feature-map tool must do: ``model(x)`` under ``no_grad`` with a
forward hook on the layer that stops the pass once the layer has run. The breakdown adds hooks
on the layers that follow it in the block (BN, activation), the window/kernel arithmetic and
the records. Rounds alternate (plain, explain, explain, plain, …); medians are compared:
ratio = explain / plain (target ≤ 1.5). ``explain`` is a click on the page, which keeps its
own copy of the model per configuration (``private=True``); ``explain (deep copy)`` is the
library's default call, which deep-copies the model first (the Python API's safe default).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from vizapp import analyze
from vizapp.labs import explain as E
from vizapp.zoo import build_model, resolve
from vizapp.zoo.base import parse_input


class _Stop(Exception):
    pass


def plain_to_layer(model, layer: str, x) -> torch.Tensor:
    """The baseline: a forward pass stopped by a hook right after ``layer``."""
    got = {}

    def hook(_m, _a, out):
        got["y"] = out
        raise _Stop

    h = dict(model.named_modules())[layer].register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    except _Stop:
        pass
    finally:
        h.remove()
    return got["y"]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_layer(model, a, layer: str, x, at, rounds: int) -> dict:
    plain, click, page = [], [], []
    for r in range(rounds):
        order = (0, 1, 2) if r % 2 == 0 else (2, 1, 0)
        for which in order:
            if which == 0:
                plain.append(timed(lambda: plain_to_layer(model, layer, x)))
            elif which == 1:
                click.append(timed(lambda: E.explain(model, layer, x, at, analysis=a,
                                                     private=True)))
            else:
                page.append(timed(lambda: E.explain(model, layer, x, at, analysis=a)))
    p, c, d = (statistics.median(v) for v in (plain, click, page))
    return {"layer": layer, "plain_ms": round(1e3 * p, 2), "explain_ms": round(1e3 * c, 2),
            "ratio": round(c / p, 3), "explain_deep_copy_ms": round(1e3 * d, 2),
            "ratio_deep_copy": round(d / p, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--input", default="3,224,224")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    spec = resolve(args.model, parse_input(args.input))
    model = build_model(spec).eval()
    x = torch.randn(1, *spec.input_shape, generator=torch.Generator().manual_seed(0))
    a = analyze(model, tuple(x.shape))
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    layers = [convs[len(convs) // 4], convs[len(convs) // 2], convs[-1]]
    print(f"{spec.label} input {tuple(x.shape)}, {torch.get_num_threads()} threads, "
          f"{args.rounds} rounds")
    for layer in layers:
        y = plain_to_layer(model, layer, x)
        at = (y.shape[1] // 2, y.shape[2] // 2, y.shape[3] // 2)
        bench_layer(model, a, layer, x, at, 1)  # warm-up
        print(json.dumps(bench_layer(model, a, layer, x, at, args.rounds)))


if __name__ == "__main__":
    main()
