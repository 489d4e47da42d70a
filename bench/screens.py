"""Screenshots of every page in presentation mode, 1280×720 and 1440×900, light and dark, for
looking at (and for the README's teacher section)::

    PYTHONPATH=. python bench/screens.py [--out artifacts/screenshots] [--pages graph,shapes]
        [--sizes 1280x720,1440x900] [--schemes light,dark] [--model resnet18]

Each page is shot once its content is drawn (``vizapp.testing.wait_for_content``), never
its loading placeholders. ``tests/test_present_e2e.py`` shoots a subset of the same."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vizapp.testing import (free_port, launch_chromium, start_streamlit,  # noqa: E402
                            stop_streamlit, wait_for_content)

PAGES = ["graph", "shapes", "compare", "batchnorm", "features", "explain", "schedules", "train",
         "run", "code"]


def url(server: str, name: str, model: str, extra: str = "") -> str:
    return f"{server}/{'' if name == 'graph' else name}?model={model}&present=1{extra}"


def shoot(browser, server: str, out: Path, pages, size: tuple[int, int], scheme: str,
          model: str = "resnet18") -> list[Path]:
    w, h = size
    page = browser.new_page(viewport={"width": w, "height": h}, color_scheme=scheme)
    paths = []
    try:
        for name in pages:
            page.goto(url(server, name, model), wait_until="domcontentloaded")
            wait_for_content(page)
            path = out / f"present_{name}_{w}x{h}_{scheme}.png"
            page.screenshot(path=str(path))
            paths.append(path)
    finally:
        page.close()
    return paths


def to_docs(path: Path) -> Path:
    """A 256-colour copy of a screenshot in docs/present/ (a third of the bytes, still sharp)."""
    from PIL import Image
    dest = ROOT / "docs" / "present" / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    Image.open(path).convert("RGB").quantize(256).save(dest, optimize=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "screenshots"))
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--sizes", default="1280x720,1440x900")
    ap.add_argument("--schemes", default="light,dark")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--docs", action="store_true",
                    help="also write 256-colour copies to docs/present/ (for the README)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright
    proc = start_streamlit(ROOT / "vizapp" / "main.py", port := free_port())
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for size in args.sizes.split(","):
                w, h = (int(v) for v in size.split("x"))
                for scheme in args.schemes.split(","):
                    t = time.time()
                    paths = shoot(browser, f"http://127.0.0.1:{port}", out,
                                  args.pages.split(","), (w, h), scheme, args.model)
                    print(f"{w}x{h} {scheme}: {len(paths)} shots in {time.time() - t:.0f} s",
                          flush=True)
                    if args.docs:
                        for path in paths:
                            to_docs(path)
            browser.close()
    finally:
        stop_streamlit(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
