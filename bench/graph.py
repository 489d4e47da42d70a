"""Benchmark: the block graph's layout + render time, next to torchview's graph of the same model
through the same layout engine.

    .venv/bin/python bench/graph.py [--presets resnet152 densenet121] [--timeout 60] [--repeat 3]

For every preset (default: all of them, plus torchvision's ResNet-152 and DenseNet-121) at full
depth (every op, repeats *not* folded — the hardest view), and at the app's default view
(depth 2, repeats folded):

- vizapp: ``to_dot`` time, then ``layout(dot, "svg")`` (DOT → laid-out SVG) time, nodes and
  edges drawn, SVG size;
- torchview: ``draw_graph(model, input_size, depth=99)`` on the same built model, its DOT
  (``visual_graph.source``) through the same engine, with a time limit (``> N s`` when it
  does not finish);
- the ratio of layout+render times (vizapp / torchview; below 1 = vizapp faster).

Every figure comes from this run on this machine (medians of ``--repeat`` runs for vizapp,
one run for torchview, whose layouts are long).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")

EXTRA = ("torchvision:resnet152", "torchvision:densenet121")


def med(fn, repeat: int) -> tuple[float, object]:
    out = fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def torchview_dot(spec) -> tuple[str, float, int, int]:
    import torch
    from torchview import draw_graph

    from vizapp.zoo import build_model
    model = build_model(spec).eval()
    c, h, w = spec.input_shape
    t = time.perf_counter()
    with torch.no_grad():
        g = draw_graph(model, input_size=(spec.batch, c, h, w), depth=99, device="cpu",
                       expand_nested=False, save_graph=False)
    secs = time.perf_counter() - t
    src = g.visual_graph.source
    import re
    nodes = len(re.findall(r"^\t\S+ \[label=", src, re.M))
    return src, secs, nodes, src.count(" -> ")


def main() -> int:
    from vizapp.analysis import analyze_spec
    from vizapp.render.dot import build_view, to_dot
    from vizapp.render.layout import LayoutTimeout, engine_name, layout
    from vizapp.zoo import presets, resolve

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", nargs="*", default=None)
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="time limit for one torchview layout (s)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-torchview", action="store_true")
    args = ap.parse_args()
    names = args.presets or [*presets(), *EXTRA]

    print(f"layout engine: {engine_name()}; vizapp medians of {args.repeat} runs; torchview one "
          f"run, limit {args.timeout:g} s", flush=True)
    head = (f"{'model':<24} {'view':<9} {'nodes':>5} {'edges':>5} {'dot ms':>7} {'layout s':>8} "
            f"{'SVG KB':>7} | {'tv nodes':>8} {'tv edges':>8} {'tv layout s':>11} {'ratio':>7}")
    print(head)
    print("-" * len(head))
    worst: dict[str, float] = {}
    for name in names:
        spec = resolve(name)
        a = analyze_spec(spec)
        rows = []
        for view, depth, fold in (("default", 2, True), ("full", 99, False)):
            v = build_view(a, depth, fold_repeats=fold)
            t_dot, dot = med(lambda: to_dot(a, depth, fold_repeats=fold), args.repeat)
            t_lay, svg = med(lambda: layout(dot, "svg", timeout=120), args.repeat)
            rows.append((view, len(v.units), len(v.edges), t_dot, t_lay, len(svg), dot))
        tv = ""
        if not args.no_torchview:
            try:
                src, _, tn, te = torchview_dot(spec)
                t = time.perf_counter()
                try:
                    layout(src, "svg", timeout=args.timeout)
                    t_tv = time.perf_counter() - t
                    full = rows[1][3] + rows[1][4]
                    tv = f"{tn:>8} {te:>8} {t_tv:>11.2f} {full / t_tv:>7.3f}"
                except LayoutTimeout:
                    tv = f"{tn:>8} {te:>8} {'> %g' % args.timeout:>11} {'< %.4f' % ((rows[1][3] + rows[1][4]) / args.timeout):>7}"
            except Exception as exc:  # noqa: BLE001 - a model torchview cannot draw
                tv = f"torchview failed: {type(exc).__name__}"
        for view, n, e, t_dot, t_lay, size, _ in rows:
            print(f"{name:<24} {view:<9} {n:>5} {e:>5} {t_dot * 1000:>7.1f} {t_lay:>8.3f} "
                  f"{size / 1024:>7.0f} | " + (tv if view == "full" else ""), flush=True)
            worst[f"{name} {view}"] = t_dot + t_lay
    slow = max(worst, key=worst.get)
    print(f"\nslowest vizapp view: {slow}: {worst[slow]:.2f} s (target ≤ 2 s for full-depth "
          "DenseNet-121 and ResNet-152)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
