"""Benchmark: vizapp's full analysis vs torchview's draw_graph and torchinfo's summary.

    .venv/bin/python bench/analysis.py [--repeat 5] [--quick]

For ResNet-152 and DenseNet-121 at 224² and 1024², from one run on this machine:
- vizapp ``analyze`` on the already-built model (trace, shapes, params, MACs, receptive fields,
  explanations) next to torchview ``draw_graph`` and torchinfo ``summary`` on the same model;
- end to end: vizapp building its own model (on meta) + analysis, vs. a user building the
  model on CPU then calling torchview;
- the 1024²/224² ratio, and peak RSS of a fresh process doing each at 1024².
Medians of ``--repeat`` runs; every ratio is measured in this run (no stored baseline).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore")

# (torchvision builder, vizapp name): vizapp builds the very same architecture itself
MODELS = {"ResNet-152": ("resnet152", "torchvision:resnet152"),
          "DenseNet-121": ("densenet121", "torchvision:densenet121")}
ZOO = {"ResNet-152": "resnet152", "DenseNet-121": "densenet121"}  # for the RSS runs


def timed(fn, repeat: int) -> float:
    fn()  # warm-up (imports, caches)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


RSS_SNIPPET = r"""
import sys, warnings, torch
warnings.filterwarnings("ignore")
what, tv, side = sys.argv[1], sys.argv[2], int(sys.argv[3])
def hwm():  # VmHWM: peak RSS of this process image (ru_maxrss survives fork+exec on Linux)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
if what == "vizapp":
    from vizapp.analysis import analyze_spec
    from vizapp.zoo import resolve
    # the zoo's own ResNet-152 / DenseNet-121 (same architecture; no torchvision import)
    a = analyze_spec(resolve(sys.argv[4], {"height": side, "width": side, "batch": 1}))
    assert a.ok
elif what == "torchinfo":
    import torchinfo, torchvision
    m = torchvision.models.get_model(tv)
    torchinfo.summary(m, input_size=(1, 3, side, side), verbose=0)
elif what == "torchview":
    import torchview, torchvision
    m = torchvision.models.get_model(tv)
    torchview.draw_graph(m, input_size=(1, 3, side, side), depth=99)
print(hwm())
"""


def peak_rss(what: str, tv: str, side: int, preset: str) -> int:
    out = subprocess.run([sys.executable, "-c", RSS_SNIPPET, what, tv, str(side), preset],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="skip torchinfo/torchview at 1024²")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    import torch
    import torchinfo
    import torchview
    import torchvision

    from vizapp.analysis import analyze, analyze_spec
    from vizapp.zoo import resolve

    results = []
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"torchview {getattr(torchview, '__version__', '?')}, "
          f"torchinfo {torchinfo.__version__}; median of {args.repeat}\n")
    for label, (tv, preset) in MODELS.items():
        model = torchvision.models.get_model(tv).eval()
        t_build_cpu = timed(lambda: torchvision.models.get_model(tv), max(1, args.repeat // 2))

        def build_meta():
            with torch.device("meta"):
                return torchvision.models.get_model(tv)
        t_build_meta = timed(build_meta, args.repeat)
        row = {"model": label, "build_cpu_s": t_build_cpu, "build_meta_s": t_build_meta}
        for side in (224, 1024):
            shape = (3, side, side)
            t_viz = timed(lambda: analyze(model, shape), args.repeat)
            spec = resolve(preset, {"height": side, "width": side, "batch": 1})
            t_e2e = timed(lambda: analyze_spec(spec), args.repeat)
            row[f"vizapp_{side}_s"] = t_viz
            row[f"vizapp_e2e_{side}_s"] = t_e2e
            if side == 224 or not args.quick:
                rep = 1 if side == 1024 else args.repeat
                row[f"torchview_{side}_s"] = timed(
                    lambda: torchview.draw_graph(model, input_size=(1,) + shape, depth=99), rep)
                row[f"torchinfo_{side}_s"] = timed(
                    lambda: torchinfo.summary(model, input_size=(1,) + shape, verbose=0), rep)
        results.append(row)

        tv224 = row["torchview_224_s"]
        print(f"== {label} ==")
        print(f"  build: CPU {t_build_cpu * 1e3:.0f} ms, meta {t_build_meta * 1e3:.0f} ms")
        for side in (224, 1024):
            v = row[f"vizapp_{side}_s"]
            line = f"  {side}²: vizapp analyze {v * 1e3:7.1f} ms"
            if f"torchview_{side}_s" in row:
                tvw, tin = row[f"torchview_{side}_s"], row[f"torchinfo_{side}_s"]
                line += (f" | torchview {tvw * 1e3:8.1f} ms (vizapp = {v / tvw:.2f}×)"
                         f" | torchinfo {tin * 1e3:8.1f} ms (vizapp = {v / tin:.2f}×)")
            print(line)
        e2e = row["vizapp_e2e_224_s"]
        user = t_build_cpu + tv224
        print(f"  end to end 224²: vizapp build(meta)+analyze {e2e * 1e3:.1f} ms vs "
              f"CPU build + torchview {user * 1e3:.1f} ms → {e2e / user:.2f}×")
        print(f"  1024² / 224² (vizapp analyze): "
              f"{row['vizapp_1024_s'] / row['vizapp_224_s']:.2f}×")

    print("\npeak RSS of a fresh process, 1024² input:")
    for label, (tv, preset) in MODELS.items():
        figs = {}
        for what in ("imports only", "vizapp", "torchinfo") + (() if args.quick else ("torchview",)):
            try:
                figs[what] = peak_rss(what, tv, 1024, ZOO[label])
            except subprocess.CalledProcessError as exc:
                figs[what] = None
                print(f"  {what} failed: {exc.stderr.strip().splitlines()[-1]}")
        txt = ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in figs.items() if v)
        print(f"  {label}: {txt}")
        for r in results:
            if r["model"] == label:
                r.update({f"rss_1024_{k}_bytes": v for k, v in figs.items()})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
