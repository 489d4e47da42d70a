"""A class on one laptop: N concurrent sessions against a real ``streamlit run``.

    .venv/bin/python bench/load.py [--sessions 30] [--changes 3] [--model resnet18] [--think 2]
                                   [--source-ip spread]
    .venv/bin/python bench/load.py --train [--sessions 10] [--epochs 10]

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

``--train`` measures the *Train* page instead: a warm-up run, then one run alone, then
``--sessions`` sessions that open the same Train link (LeNet-BN on the bundled digits,
``--epochs`` epochs) and press Train within 2 s — each follows the live fragment as a browser
does until its page shows the finished curves — then 5 sessions with 5 different settings.
It prints p95 press → finished against the run alone (target ≤ 1.3×), how many runs the
server started for the N sessions (the page's "N session(s) watching this run · K run(s)
started" line; target 1) and whether every session finished without an error.

``--source-ip spread`` binds session *i*'s socket to 127.0.0.(2 + i mod 250) (Linux routes all
of 127/8 to the loopback), so a proxy in front that hashes the client address sees N different
students (``bench/replicas.py``); ``--source-ip 127.0.0.9`` binds every session to one address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
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
    markdown: list[str] = field(default_factory=list)  # st.markdown / st.caption bodies
    figures: list[str] = field(default_factory=list)  # plotly figure JSON
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
        self.page_name = ""  # the page a link opens (its url path, e.g. "train")
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
        msg.rerun_script.page_name = self.page_name
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
    elif kind == "markdown":
        run.markdown.append(el.markdown.body)
    elif kind == "plotly_chart":
        run.figures.append(el.plotly_chart.spec)
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


# ----------------------------------------------------------------------------- --train
WATCHING = re.compile(r"(\d+) session\(s\) watching this run · (\d+) run\(s\) started")


@dataclass
class Watched:
    """What one session saw of its training, from the press on."""

    seconds: float = float("nan")  # press → the finished curves on its page
    watching: int = 0  # the most sessions its page said watch the run
    started: int = 0  # the runs the server had started, as its page said
    errors: list[str] = field(default_factory=list)


def _finished(run: Run, epochs: int) -> bool:
    """Whether this script run drew the finished curves: the run's success message and a
    validation curve with one point per epoch."""
    if not any(f"trained {epochs} epochs" in c for c in run.codes):
        return False
    for spec in run.figures:
        for trace in json.loads(spec).get("data", []):
            if str(trace.get("name", "")).endswith(" val") and len(trace.get("x", ())) == epochs:
                return True
    return False


class TrainSession(Session):
    """A browser on the Train page: presses Train, then reruns the live fragment at the
    interval the server asks for (``auto_rerun``), as the browser does, until the curves are
    finished."""

    def __init__(self, port: int, timeout: float):
        super().__init__(port, timeout)
        self.page_name = "train"

    async def _send(self, fragment: str = "", press: str | None = None) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string, cs.page_script_hash, cs.page_name = (self.query, self.page_hash,
                                                              self.page_name)
        if fragment:
            cs.fragment_id, cs.is_auto_rerun = fragment, True
        for w in self.widgets.values():
            cs.widget_states.widgets.append(w)
        if press is not None:  # a button: one trigger, not kept like a value
            cs.widget_states.widgets.append(WidgetState(id=press, trigger_value=True))
        await self.ws.send(msg.SerializeToString())

    async def press_and_watch(self, button: str, epochs: int) -> Watched:
        """Press ``button`` (its widget id) and follow the page until the curves of
        ``epochs`` epochs are drawn (TimeoutError after ``self.timeout`` seconds)."""
        seen, t0 = Watched(), time.perf_counter()
        due: dict[str, tuple[float, float]] = {}  # fragment → (interval, next run)
        await self._send(press=button)
        running, run = True, Run(0.0)
        while True:
            now = time.perf_counter()
            if now - t0 > self.timeout:
                raise TimeoutError
            if not running and due:
                frag, (interval, at) = min(due.items(), key=lambda kv: kv[1][1])
                if now >= at:
                    due[frag] = (interval, now + interval)
                    await self._send(fragment=frag)
                    running, run = True, Run(0.0)
                    continue
            wait = self.timeout if running or not due else min(
                at for _, at in due.values()) - now
            try:
                raw = await asyncio.wait_for(self.ws.recv(), max(wait, 0.01))
            except (asyncio.TimeoutError, TimeoutError):
                if running:
                    raise
                continue
            f = ForwardMsg()
            f.ParseFromString(raw)
            kind = f.WhichOneof("type")
            if kind == "auto_rerun":
                due[f.auto_rerun.fragment_id] = (f.auto_rerun.interval,
                                                 time.perf_counter() + f.auto_rerun.interval)
            elif kind == "page_info_changed":
                self.query = f.page_info_changed.query_string
            elif kind == "delta" and f.delta.WhichOneof("type") == "new_element":
                _element(f.delta.new_element, raw, run)
            elif kind == "script_finished":
                seen.errors += run.errors
                for text in run.markdown:
                    for m in WATCHING.finditer(text):
                        seen.watching = max(seen.watching, int(m.group(1)))
                        seen.started = max(seen.started, int(m.group(2)))
                if _finished(run, epochs):
                    seen.seconds = time.perf_counter() - t0
                    return seen
                # a run cut short for a rerun (the page's st.rerun) goes on by itself
                running = f.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN
                run = Run(0.0) if not running else run


def train_link(epochs: int, seed: int, lr: float = 0.5) -> str:
    """A teacher's link: LeNet-BN on the bundled digits, no comparison run."""
    return (f"model=lenet-bn&t.data=digits&t.epochs={epochs}&t.lr={lr:g}&t.vs=none"
            f"&t.seed={seed}")


async def train_student(k: int, port: int, args, link: str, out: list, errors: list,
                        opened: asyncio.Barrier | None, spread: float) -> None:
    """Open ``link``, wait until every session has opened it, press Train within ``spread``
    seconds of the others and watch until the curves are finished."""
    try:
        async with TrainSession(port, args.timeout) as s:
            run = await s.rerun(link)
            s.page_hash = s.pages.get("train", "")  # a browser's reruns name the page it shows
            errors.extend(run.errors)
            if "vz.train.go" not in run.widgets:
                raise RuntimeError("the Train page drew no Train button")
            if opened is not None:
                await opened.wait()
            await asyncio.sleep(random.Random(k).uniform(0, spread))
            seen = await s.press_and_watch(run.widgets["vz.train.go"][0], args.epochs)
            errors.extend(seen.errors)
            out.append(seen)
    except (asyncio.TimeoutError, TimeoutError):
        errors.append(f"session {k}: no finished curves within {args.timeout:g} s")
    except Exception as exc:  # noqa: BLE001 - counted and printed
        errors.append(f"session {k}: {type(exc).__name__}: {exc}")


async def train_group(port: int, args, links: list[str], spread: float) -> tuple[list, list]:
    out: list[Watched] = []
    errors: list[str] = []
    opened = asyncio.Barrier(len(links)) if len(links) > 1 else None
    await asyncio.gather(*(train_student(k, port, args, link, out, errors, opened, spread)
                           for k, link in enumerate(links)))
    return out, errors


async def train_bench(port: int, args) -> dict:
    """Warm-up (not measured), one run alone (3 times before the N sessions, twice after),
    N sessions on one link, 5 sessions on 5 settings."""
    seed = random.Random().randrange(10**6)  # keys no earlier run of this server has stored
    for i in range(2):  # the server warms up in the background for a while after it starts
        await train_group(port, args, [train_link(args.epochs, seed - 1 - i)], 0.0)
    alone, alone_err = [], []

    async def one_alone(k: int) -> None:  # one session, a key of its own
        w, e = await train_group(port, args, [train_link(args.epochs, seed + 100 + k)], 0.0)
        alone.extend(w)
        alone_err.extend(e)

    for k in range(3):  # the baseline: the median of 3 before and 2 after the N sessions
        await one_alone(k)
    same, same_err = await train_group(port, args, [train_link(args.epochs, seed + 1)]
                                       * args.sessions, 2.0)
    base = max((w.started for w in alone), default=0)
    for k in range(3, 5):
        await one_alone(k)
    t0 = time.perf_counter()
    mixed, mixed_err = await train_group(port, args, [train_link(args.epochs, seed + 2 + i)
                                                      for i in range(5)], 2.0)
    mixed_wall = time.perf_counter() - t0
    times = [w.seconds for w in same]
    return {"sessions": args.sessions, "epochs": args.epochs,
            "alone_s": statistics.median([w.seconds for w in alone]) if alone else float("nan"),
            "alone_all": [w.seconds for w in alone],
            "same_p50": pct(times, 50), "same_p95": pct(times, 95), "same_max": max(times,
                                                                                    default=0),
            "same_finished": len(same), "same_watching": max((w.watching for w in same),
                                                              default=0),
            "same_runs_started": max((w.started for w in same), default=0) - base,
            "mixed_finished": len(mixed), "mixed_wall_s": mixed_wall,
            "mixed_runs_started": max((w.started for w in mixed), default=0)
            - max((w.started for w in alone), default=0),
            "errors": alone_err + same_err + mixed_err}


def train_main(args) -> int:
    port = free_port()
    log = ROOT / "artifacts" / "bench_load_train.log"
    log.parent.mkdir(exist_ok=True)
    proc = start_streamlit(MAIN, port, log=log)
    try:
        r = asyncio.run(train_bench(port, args))
    finally:
        stop_streamlit(proc)
    ratio = r["same_p95"] / r["alone_s"]
    print(f"Train: LeNet-BN on digits, {r['epochs']} epochs, {r['sessions']} sessions on one "
          f"link (pressed within 2 s)")
    print(f"one run alone          press → finished {r['alone_s']:.2f} s (median of "
          f"{', '.join(f'{x:.2f}' for x in r['alone_all'])})")
    print(f"{r['sessions']} sessions, one link   press → finished p50 {r['same_p50']:.2f} s, "
          f"p95 {r['same_p95']:.2f} s = {ratio:.2f}× alone (target ≤ 1.3×); "
          f"{r['same_finished']}/{r['sessions']} saw the finished curves")
    print(f"runs the server started for them: {r['same_runs_started']} (the page said up to "
          f"{r['same_watching']} sessions watching one run)")
    print(f"5 sessions, 5 settings: {r['mixed_finished']}/5 finished in {r['mixed_wall_s']:.1f} "
          f"s, {r['mixed_runs_started']} runs started")
    print(f"errors: {len(r['errors'])}")
    for e in r["errors"][:10]:
        print("  error:", e)
    (ROOT / "artifacts" / "bench_load_train.json").write_text(json.dumps(r, indent=2))
    ok = (not r["errors"] and r["same_finished"] == r["sessions"] and r["mixed_finished"] == 5
          and r["same_runs_started"] == 1)
    return 0 if ok else 1


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
    ap.add_argument("--train", action="store_true",
                    help="the Train page instead: --sessions sessions press Train on one link")
    ap.add_argument("--epochs", type=int, default=10, help="--train: epochs of each run")
    args = ap.parse_args()
    if args.train:
        return train_main(args)
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
