"""The app's latency as a user feels it, in headless Chromium against a real ``streamlit run``.

    .venv/bin/python bench/app.py [--presets lenet,resnet18] [--changes 3] [--cold 3]

- **cold start → first graph**: from launching ``streamlit run vizapp/main.py`` to the default
  page's graph drawn in the browser (server boot, torch import, first analysis, layout, SVG).
  Repeated ``--cold`` times with a fresh server each time.
- **open preset → graph** (warm server): ``/?model=NAME`` to its graph on screen.
- **knob change → graph**: type a new number of classes in the sidebar, press Enter, until the
  graph shows ``output N``. Each change is a new configuration (a cache miss: analysis, DOT,
  layout, SVG transfer and drawing all included). ``--changes`` per preset.

Prints a table per preset and p50/p95 over all presets; writes artifacts/bench_app.json.
The issue's target: a knob change updates the graph in ≤ 1 s for every preset at default depth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vizapp.testing import (CHROMIUM, free_port, launch_chromium,  # noqa: E402
                            start_streamlit, stop_streamlit)

MAIN = ROOT / "vizapp" / "main.py"
GRAPH = "[data-testid='vz-graph-viewer'][data-ready='true'] svg, [data-testid='stGraphVizChart'] svg"
TEXTS = "[data-testid='vz-graph-viewer'] svg text, [data-testid='stGraphVizChart'] svg text"


def settle(page, timeout: int = 180_000) -> None:
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout)


def texts(page) -> list[str]:
    return [t.strip() for t in page.locator(TEXTS).all_text_contents()]


def wait_text(page, text: str, timeout: float = 120.0) -> None:
    t0 = time.perf_counter()
    while text not in texts(page):
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"graph never showed '{text}'")
        time.sleep(0.01)


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def cold_start(browser, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        proc = start_streamlit(MAIN, port, poll=0.05)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            page.wait_for_selector(GRAPH, timeout=180_000)
            out.append(time.perf_counter() - t0)
            page.close()
        finally:
            stop_streamlit(proc)
    return out


def preset_run(browser, url: str, name: str, changes: int) -> dict:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    t0 = time.perf_counter()
    page.goto(f"{url}/?model={name}", wait_until="domcontentloaded")
    page.wait_for_selector(GRAPH, timeout=180_000)
    opened = time.perf_counter() - t0
    settle(page)
    field = page.get_by_role("spinbutton", name="Classes", exact=True)
    start_value = int(field.input_value())
    lat = []
    for i in range(changes):
        n = start_value + 7 + i  # always a configuration not seen before
        field.fill(str(n))
        t1 = time.perf_counter()
        field.press("Enter")
        wait_text(page, f"output {n}")
        lat.append(time.perf_counter() - t1)
        settle(page)
    page.close()
    return {"preset": name, "open_s": opened, "knob_s": lat}


def main() -> int:
    from playwright.sync_api import sync_playwright

    from vizapp.zoo import presets

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", help="comma list (default: every preset)")
    ap.add_argument("--changes", type=int, default=3, help="knob changes per preset")
    ap.add_argument("--cold", type=int, default=3, help="cold starts (fresh server each)")
    args = ap.parse_args()
    names = args.presets.split(",") if args.presets else list(presets())
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM}: apt-get install chromium")
        return 2

    with sync_playwright() as p:
        browser = launch_chromium(p)
        cold = cold_start(browser, args.cold) if args.cold else []
        port = free_port()
        proc = start_streamlit(MAIN, port, poll=0.05)
        try:
            url = f"http://127.0.0.1:{port}"
            rows = [preset_run(browser, url, n, args.changes) for n in names]
        finally:
            stop_streamlit(proc)
        browser.close()

    print(f"\nvizapp in the browser (headless Chromium, {os.cpu_count()} CPUs, "
          f"{len(names)} presets, {args.changes} knob changes each)\n")
    if cold:
        print(f"cold start → first graph (default page, fresh server): "
              f"{', '.join(f'{c:.2f}' for c in cold)} s  (median {statistics.median(cold):.2f} s)")
    print(f"\n{'preset':<14}{'open → graph':>14}{'knob → graph p50':>18}{'max':>8}")
    for r in rows:
        print(f"{r['preset']:<14}{r['open_s']:>12.2f} s{statistics.median(r['knob_s']):>16.2f} s"
              f"{max(r['knob_s']):>6.2f} s")
    allk = [x for r in rows for x in r["knob_s"]]
    opens = [r["open_s"] for r in rows]
    print(f"\nknob change → graph over all presets: p50 {pct(allk, .5):.2f} s, "
          f"p95 {pct(allk, .95):.2f} s, max {max(allk):.2f} s "
          f"({sum(x <= 1.0 for x in allk)}/{len(allk)} ≤ 1 s)")
    print(f"open preset → graph (warm server): p50 {pct(opens, .5):.2f} s, "
          f"p95 {pct(opens, .95):.2f} s")
    out = ROOT / "artifacts" / "bench_app.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cold_start_s": cold, "presets": rows,
                               "knob_p50_s": pct(allk, .5), "knob_p95_s": pct(allk, .95),
                               "open_p50_s": pct(opens, .5), "open_p95_s": pct(opens, .95)},
                              indent=2))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
