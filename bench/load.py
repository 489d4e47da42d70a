"""A class on one laptop: N concurrent sessions against a real ``streamlit run``.

    .venv/bin/python bench/load.py [--sessions 30] [--changes 3] [--model resnet18] [--think 2]
                                   [--source-ip spread]

Each session is a websocket client speaking Streamlit's own protocol (``/_stcore/stream``,
``BackMsg`` / ``ForwardMsg`` protobufs from the ``streamlit`` package), so thirty of them cost
the client almost no CPU. All sessions open the same link at the same moment (the teacher's),
then each, after a think time, changes the number of classes in the sidebar ``--changes``
times (a new configuration each: analysis, layout and SVG), then switches to the Shapes page
and back. It prints:

- errors (exception elements, error alerts) and stuck sessions (no answer in ``--timeout``);
- open → graph drawn, p50/p95; knob change → updated graph (``output N`` in the SVG),
  p50/p95; page switch p50/p95;
- server memory (the server process and its worker processes; PSS, which counts the pages
  they share once, and RSS, which counts them per process): warm baseline (one session
  served), peak, and after every session closed.

Targets for this 2-core machine at N = 30: 0 errors, 0 stuck, open p95 ≤ 5 s, change p95
≤ 2 s, peak RSS ≤ 2 GB, back near the baseline after close. Traffic goes to 127.0.0.1 only;
every loop is bounded and the script stops by itself.

``--source-ip spread`` binds session *i*'s socket to 127.0.0.(2 + i mod 250) (Linux routes all
of 127/8 to the loopback), so a proxy in front that hashes the client address sees N different
students (``bench/replicas.py``); ``--source-ip 127.0.0.9`` binds every session to one address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from vizapp.testing import free_port, start_streamlit, stop_streamlit  # noqa: E402

MAIN = ROOT / "vizapp" / "main.py"


@dataclass
class Run:
    seconds: float
    texts: list[bytes] = field(default_factory=list)  # raw bytes of the graph elements
    widgets: dict[str, tuple[str, str]] = field(default_factory=dict)  # key → (id, type)
    errors: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)  # st.code / alert texts (messages shown)
    pages: dict[str, str] = field(default_factory=dict)  # url path → page_script_hash
    states: dict[str, tuple] = field(default_factory=dict)  # id → (WidgetState, set by script)


def source_ip(k: int, spec: str | None) -> str | None:
    """The loopback address session ``k`` connects from: ``spread`` → 127.0.0.(2 + k mod 250),
    an address → that address, None → the system's choice (127.0.0.1)."""
    if spec == "spread":
        return f"127.0.0.{2 + k % 250}"
    return spec or None


class Session:
    def __init__(self, port: int, timeout: float, source: str | None = None):
        self.url = f"ws://127.0.0.1:{port}/_stcore/stream"
        self.timeout = timeout
        self.source = source  # the local address to connect from (None: the system's choice)
        self.ws = None
        self.pages: dict[str, str] = {}
        self.page_hash = ""
        self.query = ""  # the URL's query as the server last set it (a browser sends it back)
        self.widgets: dict[str, object] = {}  # widget id → the last WidgetState we set

    async def __aenter__(self) -> "Session":
        bind = {"local_addr": (self.source, 0)} if self.source else {}  # → create_connection
        self.ws = await websockets.connect(self.url, max_size=None, open_timeout=self.timeout,
                                           **bind)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def rerun(self, query: str | None = None, widgets: list | None = None) -> Run:
        """One script run (``query``: a link to open; else the current URL's query, as a
        browser sends it); returns when the server says the script finished."""
        if query is not None:
            self.query = query
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_script_hash = self.page_hash
        for w in widgets or []:  # like a browser: every widget's current value, ours changed
            self.widgets[w.id] = w
        for w in self.widgets.values():
            msg.rerun_script.widget_states.widgets.append(w)
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        run = Run(0.0)
        deadline = t0 + self.timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), max(deadline - time.perf_counter(), 0.01))
            f = ForwardMsg()
            f.ParseFromString(raw)
            kind = f.WhichOneof("type")
            if kind == "script_finished":
                run.seconds = time.perf_counter() - t0
                for wid, (state, forced) in run.states.items():  # what the browser now shows
                    if forced or wid not in self.widgets:
                        self.widgets[wid] = state
                return run
            if kind == "page_info_changed":
                self.query = f.page_info_changed.query_string
            if kind == "navigation":
                for p in f.navigation.app_pages:
                    self.pages[p.url_pathname] = p.page_script_hash
            if kind == "delta" and f.delta.WhichOneof("type") == "new_element":
                _element(f.delta.new_element, raw, run)


def _element(el, raw: bytes, run: Run) -> None:
    kind = el.WhichOneof("type")
    if kind == "exception":
        run.errors.append(f"exception: {el.exception.message[:120]}")
    elif kind == "alert" and el.alert.format == 1:  # ERROR
        run.errors.append(f"error: {el.alert.body[:120]}")
    elif kind == "bidi_component" or kind == "graphviz_chart":
        run.texts.append(raw)
    elif kind == "code":
        run.codes.append(el.code.code_text)
    if kind == "alert":
        run.codes.append(el.alert.body)
    inner = getattr(el, kind, None)
    wid = getattr(inner, "id", "") if inner is not None else ""
    if wid and "-" in wid:
        run.widgets[wid.rsplit("-", 1)[-1]] = (wid, kind)
        state = _widget_state(kind, inner)
        if state is not None:
            run.states[wid] = (state, bool(getattr(inner, "set_value", False)))


def _widget_state(kind: str, w):
    """The WidgetState a browser would send for this element's current value (the kinds the
    pages under test use); None for buttons and the rest."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    st = WidgetState(id=w.id)
    if kind == "number_input":
        st.double_value = w.value if w.set_value else w.default
    elif kind == "slider":
        st.double_array_value.data.extend(w.value if w.set_value else w.default)
    elif kind == "checkbox":
        st.bool_value = w.value if w.set_value else w.default
    elif kind in ("text_input", "text_area"):
        st.string_value = w.value if w.set_value else w.default
    elif kind == "selectbox":
        if w.set_value:
            st.string_value = w.raw_value
        elif w.HasField("default") and 0 <= w.default < len(w.options):
            st.string_value = w.options[w.default]
        else:
            return None
    else:
        return None
    return st


def _number_widget(wid: str, value: float):
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    w = WidgetState(id=wid)
    w.double_value = value
    return w


@dataclass
class Stats:
    open: list[float] = field(default_factory=list)
    change: list[float] = field(default_factory=list)
    switch: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stuck: int = 0


async def student(k: int, port: int, args, stats: Stats, start: asyncio.Event) -> None:
    rnd = random.Random(k)
    await start.wait()
    try:
        async with Session(port, args.timeout,
                           source_ip(k, getattr(args, "source_ip", None))) as s:
            t0 = time.perf_counter()
            run = await s.rerun(f"model={args.model}")
            if not run.texts:
                raise RuntimeError("the first run drew no graph")
            stats.open.append(time.perf_counter() - t0)
            stats.errors += run.errors
            key = next(n for n in run.widgets if n.endswith(".num_classes"))
            for j in range(args.changes):
                await asyncio.sleep(args.think * (0.5 + rnd.random()))
                # a new configuration every time (an offset keeps a later run off the
                # configurations an earlier one left in the same server's caches)
                value = 11 + getattr(args, "offset", 0) + k * args.changes + j
                run = await s.rerun(widgets=[_number_widget(run.widgets[key][0], value)])
                stats.errors += run.errors
                if not any(f"output {value}".encode() in t for t in run.texts):
                    stats.errors.append(f"session {k}: the graph does not show output {value}")
                stats.change.append(run.seconds)
            for path in ("shapes", "graph"):
                s.page_hash = s.pages.get(path, "")
                run = await s.rerun()
                stats.errors += run.errors
                stats.switch.append(run.seconds)
    except (asyncio.TimeoutError, TimeoutError):
        stats.stuck += 1
    except Exception as exc:  # noqa: BLE001 - counted and printed
        stats.errors.append(f"session {k}: {type(exc).__name__}: {exc}")


def _tree(pid: int) -> set[int]:
    """The server and its children (the analysis workers)."""
    import subprocess

    out = subprocess.run(["ps", "-o", "pid=,ppid=", "-A"], capture_output=True, text=True)
    rows = [tuple(int(x) for x in line.split()) for line in out.stdout.splitlines() if line.strip()]
    pids, changed = {pid}, True
    while changed:
        changed = False
        for p, pp in rows:
            if pp in pids and p not in pids:
                pids.add(p)
                changed = True
    return pids


def memory(*pids: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes of the servers' process trees. PSS shares the pages the processes
    share (torch's libraries are mapped by all of them), so it is what the tree costs."""
    rss = pss = 0
    for p in set().union(*(_tree(pid) for pid in pids)):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


async def bench(port: int, args, proc) -> dict:
    """One load run against the server (or proxy) on ``port``; ``proc``: the server process,
    or a list of them (replicas), whose memory is measured."""
    pids = [p.pid for p in (proc if isinstance(proc, (list, tuple)) else [proc])]
    async with Session(port, args.timeout) as warm:  # warm baseline: one session served
        await warm.rerun(f"model={args.model}")
    await asyncio.sleep(2)
    base = memory(*pids)
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            m = memory(*pids)
            peak[0] = (max(peak[0][0], m[0]), max(peak[0][1], m[1]))
            done.wait(0.5)

    threading.Thread(target=sample, daemon=True).start()
    stats, start = Stats(), asyncio.Event()
    tasks = [asyncio.create_task(student(k, port, args, stats, start))
             for k in range(args.sessions)]
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    await asyncio.sleep(args.settle)
    done.set()
    after = memory(*pids)
    return {"sessions": args.sessions, "changes": args.changes, "model": args.model,
            "wall_s": wall, "errors": stats.errors, "stuck": stats.stuck,
            "open_p50": pct(stats.open, 50), "open_p95": pct(stats.open, 95),
            "change_p50": pct(stats.change, 50), "change_p95": pct(stats.change, 95),
            "switch_p50": pct(stats.switch, 50), "switch_p95": pct(stats.switch, 95),
            "rss_base_mb": base[0] / 2**20, "rss_peak_mb": peak[0][0] / 2**20,
            "rss_after_mb": after[0] / 2**20, "pss_base_mb": base[1] / 2**20,
            "pss_peak_mb": peak[0][1] / 2**20, "pss_after_mb": after[1] / 2**20,
            "opened": len(stats.open),
            "changed": len(stats.change)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--changes", type=int, default=3)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--think", type=float, default=2.0, help="mean seconds between changes")
    ap.add_argument("--timeout", type=float, default=60.0, help="a run slower than this = stuck")
    ap.add_argument("--settle", type=float, default=8.0, help="seconds after close before RSS")
    ap.add_argument("--source-ip", default=None,
                    help="'spread': session i connects from 127.0.0.(2+i%%250); or one address")
    args = ap.parse_args()
    port = free_port()
    proc = start_streamlit(MAIN, port)  # stopped with its worker
    try:
        r = asyncio.run(bench(port, args, proc))
    finally:
        stop_streamlit(proc)
    print(f"{r['sessions']} sessions × {r['changes']} changes on {r['model']} "
          f"({r['wall_s']:.1f} s): {len(r['errors'])} errors, {r['stuck']} stuck")
    print(f"open → graph      p50 {r['open_p50']:.2f} s  p95 {r['open_p95']:.2f} s "
          f"(target ≤ 5 s)")
    print(f"change → graph    p50 {r['change_p50']:.2f} s  p95 {r['change_p95']:.2f} s "
          f"(target ≤ 2 s)")
    print(f"page switch       p50 {r['switch_p50']:.2f} s  p95 {r['switch_p95']:.2f} s")
    for m in ("pss", "rss"):
        print(f"server {m.upper()} (+workers) baseline {r[m + '_base_mb']:.0f} MB, peak "
              f"{r[m + '_peak_mb']:.0f} MB (target ≤ 2048), after close "
              f"{r[m + '_after_mb']:.0f} MB ({r[m + '_after_mb'] / r[m + '_base_mb']:.2f}× "
              f"baseline)")
    for e in r["errors"][:10]:
        print("  error:", e)
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    (out / "bench_load.json").write_text(json.dumps(r, indent=2))
    return 1 if r["errors"] or r["stuck"] else 0


if __name__ == "__main__":
    sys.exit(main())
