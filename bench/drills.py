"""Fault drills for a classroom server: each drill hurts a real ``streamlit run`` on purpose,
then checks that every session still gets answers — with a message where something was lost,
never a traceback — and that memory comes back.

    .venv/bin/python bench/drills.py

1. **paused server**: SIGSTOP the server for 5 s while sessions are mid-rerun, SIGCONT, and
   every session's next rerun answers.
2. **tab closed mid-rerun**: a session asks for a slow configuration and disconnects at once;
   the other sessions keep answering, and the server's workers are not left stuck.
3. **reload during a long computation**: a session starts a slow configuration, reconnects
   (a reload) and opens it again: it is served (from the cache once computed).
4. **ten tabs of the slowest configuration at once**: ten sessions open the same full-depth
   torchvision DenseNet-121 link together; all are served, the analysis is computed once.
5.–7. **hostile code links** (the review's findings): a ``?code=`` link whose code segfaults
   the evaluating process (a tuple nested 270,000 deep, hashed), one that would hold the GIL
   for hours (``AA == BB`` over 10¹² elements) and a memory bomb (1.6 GB of lists). While each
   runs, three other sessions keep asking for new graphs: their p95 must stay ≤ 5 s, the
   hostile tab gets a message, and the server's memory comes back within 10 % afterwards.

Prints one line per drill (PASS/FAIL, timings) and the server's memory (PSS) before and after;
exit 1 on any failure. Traffic goes to 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from load import MAIN, Session, memory  # noqa: E402

from vizapp.testing import free_port, start_streamlit, stop_streamlit  # noqa: E402

SLOW = "model=torchvision:densenet121&depth=99"


async def _serve(port: int, query: str, timeout: float = 120.0):
    async with Session(port, timeout) as s:
        run = await s.rerun(query)
        return run


async def paused(port: int, pid: int) -> tuple[bool, str]:
    sessions = [await Session(port, 60).__aenter__() for _ in range(3)]
    try:
        jobs = [asyncio.create_task(s.rerun("model=resnet34")) for s in sessions]
        await asyncio.sleep(0.2)
        os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(5)
        os.kill(pid, signal.SIGCONT)
        runs = await asyncio.gather(*jobs)
        again = [await s.rerun() for s in sessions]
        errors = [e for r in runs + again for e in r.errors]
        ok = all(r.texts for r in again) and not errors
        return ok, f"{len(sessions)} sessions answered after a 5 s pause; errors: {errors[:2]}"
    finally:
        for s in sessions:
            await s.__aexit__(None, None, None)


async def tab_closed(port: int) -> tuple[bool, str]:
    s = await Session(port, 60).__aenter__()
    await s.ws.send(_rerun_bytes("model=densenet121&depth=99"))
    await s.ws.close()  # the tab is gone before the answer
    t0 = time.perf_counter()
    run = await _serve(port, "model=lenet")
    return bool(run.texts) and not run.errors, \
        f"another session served in {time.perf_counter() - t0:.2f} s after the close"


async def reload(port: int) -> tuple[bool, str]:
    s = await Session(port, 120).__aenter__()
    await s.ws.send(_rerun_bytes("model=resnet152&depth=99"))
    await asyncio.sleep(0.3)
    await s.ws.close()
    t0 = time.perf_counter()
    run = await _serve(port, "model=resnet152&depth=99")
    return bool(run.texts) and not run.errors, \
        f"the reloaded tab got its graph in {time.perf_counter() - t0:.2f} s"


async def ten_tabs(port: int) -> tuple[bool, str]:
    t0 = time.perf_counter()
    runs = await asyncio.gather(*[_serve(port, SLOW, 180) for _ in range(10)])
    wall = time.perf_counter() - t0
    errors = [e for r in runs for e in r.errors]
    ok = all(r.texts for r in runs) and not errors
    return ok, (f"10 tabs of {SLOW} served in {wall:.1f} s (slowest run "
                f"{max(r.seconds for r in runs):.1f} s); errors: {errors[:2]}")


HOSTILE = {
    "segfault": ("t = ()\nfor i in range(1800):\n    t = " + "(" * 150 + "t" + ",)" * 150 +
                 "\nd = {t: 1}\nnet = nn.Sequential(nn.ReLU())"),
    "GIL freeze": ("a = [0] * 10000\nb = [0] * 10000\nA = [a] * 10000\nB = [b] * 10000\n"
                   "AA = [A] * 10000\nBB = [B] * 10000\nx = AA == BB\n"
                   "net = nn.Sequential(nn.ReLU())"),
    "memory bomb": ("x = [[0] * 10000 for i in range(10000)]\n"
                    "y = [[1] * 10000 for i in range(10000)]\nnet = nn.Sequential(nn.ReLU())"),
}


async def hostile(port: int, pid: int, name: str) -> tuple[bool, str]:
    from vizapp.custom import url

    base = memory(pid)[1]
    link = "model=seed003-sequential&code=" + url.encode(HOSTILE[name])
    others = [await Session(port, 60).__aenter__() for _ in range(3)]
    times: list[float] = []
    errors: list[str] = []
    try:
        attack = asyncio.create_task(_serve(port, link, 60))
        k = 0
        while not attack.done() and k < 60:  # bounded: at most 60 rounds of 3 graphs
            t0 = time.perf_counter()
            runs = await asyncio.gather(*[s.rerun(f"model=resnet18&width={16 + 2 * (k * 3 + i)}")
                                          for i, s in enumerate(others)])
            times += [time.perf_counter() - t0] * len(runs)
            errors += [e for r in runs for e in r.errors]
            k += 1
        run = await attack
    finally:
        for s in others:
            await s.__aexit__(None, None, None)
    await asyncio.sleep(2)
    after = memory(pid)[1]
    p95 = sorted(times)[int(0.95 * (len(times) - 1))] if times else float("nan")
    said = next((c for c in run.codes if "was stopped" in c or "crashed" in c
                 or "memory" in c), "")
    crashed = [e for e in run.errors if e.startswith("exception")]
    ok = said and not crashed and not errors and times and p95 <= 5 and after <= 1.10 * base
    return bool(ok), (f"hostile tab told {said[:60]!r} in {run.seconds:.1f} s; "
                      f"{len(times)} other graphs, "
                      f"p95 {p95:.2f} s; PSS {base / 2**20:.0f} → {after / 2**20:.0f} MB; "
                      f"errors: {errors[:2]}")


def _rerun_bytes(query: str) -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    m = BackMsg()
    m.rerun_script.query_string = query
    return m.SerializeToString()


async def drills(port: int, pid: int) -> int:
    await _serve(port, "model=lenet")  # warm
    before = memory(pid)[1]
    failed = 0
    for name, coro in (("paused server", paused(port, pid)), ("tab closed", tab_closed(port)),
                       ("reload", reload(port)), ("ten tabs", ten_tabs(port)),
                       *[(f"hostile link: {h}", hostile(port, pid, h)) for h in HOSTILE]):
        try:
            ok, detail = await asyncio.wait_for(coro, 300)
        except Exception as exc:  # noqa: BLE001 - a drill that breaks is a failure
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
    await asyncio.sleep(5)
    after = memory(pid)[1]
    print(f"server PSS (+workers): {before / 2**20:.0f} MB before the drills, "
          f"{after / 2**20:.0f} MB after")
    return failed


def main() -> int:
    port = free_port()
    proc = start_streamlit(MAIN, port)
    try:
        failed = asyncio.run(drills(port, proc.pid))
    finally:
        stop_streamlit(proc)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
