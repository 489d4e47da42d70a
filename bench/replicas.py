"""The department recipe, run for real: N replicas of the app behind nginx, with the shipped
``deploy/nginx/vizapp.conf`` (sticky by ``hash $remote_addr consistent``).

    .venv/bin/python bench/replicas.py [--replicas 1,2] [--sessions 10,20,30] [--changes 3]
                                       [--think 2] [--model resnet18] [--budget 900]

For each replica count: that many fresh servers (``streamlit run vizapp/main.py``, each with
its own analysis worker) on free localhost ports, and Debian's nginx in a temporary prefix (its
own pid file, logs and temp paths: no root needed, nothing of /etc/nginx used) running the
shipped site file with those ports. Then ``bench/load.py``'s sessions go through the proxy,
session *i* connecting from 127.0.0.(2 + i mod 250) so that the hash sees N students, at each
step of ``--sessions`` until one misses the target. Per step it prints errors, stuck sessions,
open → graph and change → graph p95, how nginx spread the websockets over the replicas (its
access log) and whether every address stayed on one replica; then the sessions *held* per
replica count: the largest step with 0 errors, 0 stuck and change p95 ≤ 2 s.

Where nginx is not installed it says so and exits 0, having started nothing. Every process it
starts leads its own process group and is stopped in ``finally`` (servers with their workers,
nginx with its worker): nothing is left behind, and every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "deploy" / "nginx" / "vizapp.conf"
TARGET_P95 = 2.0  # change → updated graph, seconds (bench/load.py's target)

_REPLICA_LINE = re.compile(r"^[ \t]*server[ \t]+127\.0\.0\.1:\d+;[ \t]*\n", re.M)
_LISTEN_LINE = re.compile(r"^([ \t]*)listen[ \t]+80;", re.M)


def find_nginx(explicit: str | None = None) -> str | None:
    """``--nginx``, else ``$VIZAPP_NGINX``, else nginx on PATH or in /usr/sbin (Debian's)."""
    for cand in (explicit, os.environ.get("VIZAPP_NGINX")):
        if cand:
            return cand if os.access(cand, os.X_OK) else None
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def site_for(ports: list[int], listen: int, site: str | None = None) -> str:
    """The shipped site file with one ``server`` line per replica port and the proxy
    listening on 127.0.0.1:``listen`` (everything else exactly as shipped)."""
    text = SITE.read_text() if site is None else site
    lines = _REPLICA_LINE.findall(text)
    if not lines or not _LISTEN_LINE.search(text):
        raise ValueError(f"{SITE} no longer has 'server 127.0.0.1:PORT;' lines or 'listen 80;'")
    indent = re.match(r"[ \t]*", lines[0]).group(0)
    servers = "".join(f"{indent}server 127.0.0.1:{p};\n" for p in ports)
    first = _REPLICA_LINE.search(text)
    text = text[:first.start()] + servers + _REPLICA_LINE.sub("", text[first.start():])
    return _LISTEN_LINE.sub(lambda m: f"{m.group(1)}listen 127.0.0.1:{listen};", text, count=1)


def nginx_conf(prefix: Path, ports: list[int], listen: int) -> str:
    """A whole nginx.conf for an unprivileged nginx in ``prefix``: pid, logs and temp paths
    there, in the foreground, one worker; the http block holds the shipped site."""
    p = prefix
    return f"""daemon off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    log_format replicas '$remote_addr $upstream_addr "$request_uri" $status $request_time';
    access_log {p}/access.log replicas;
    client_body_temp_path {p}/client_body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
{site_for(ports, listen)}
}}
"""


def start_nginx(nginx: str, prefix: Path, conf: Path, listen: int,
                timeout: float = 20.0) -> subprocess.Popen:
    """``nginx -t`` on the config (a clear error if it is wrong), then nginx in the foreground
    in its own process group; returns once the proxy answers a replica's health check."""
    base = [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
    check = subprocess.run(base + ["-t"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t rejected the config: {check.stderr.strip()[-1500:]}")
    with open(prefix / "nginx.out", "wb") as out:
        proc = subprocess.Popen(base, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    from vizapp.testing import stop_streamlit, wait_for_health

    def exited() -> None:
        raise RuntimeError("nginx exited: " + (prefix / "nginx.out").read_text()[-1500:])

    if wait_for_health(proc, listen, timeout, exited):
        return proc
    stop_streamlit(proc)
    raise RuntimeError(f"nginx did not answer on port {listen} within {timeout:.0f} s")


def spread(access_log: Path) -> tuple[dict[str, int], int]:
    """({replica: websocket sessions}, client addresses seen on more than one replica) from
    the proxy's access log."""
    per_replica: collections.Counter = collections.Counter()
    where: dict[str, set[str]] = collections.defaultdict(set)
    for line in access_log.read_text().splitlines() if access_log.exists() else ():
        parts = line.split()
        if len(parts) < 3 or parts[1] == "-":
            continue
        client, upstream, uri = parts[0], parts[1], parts[2].strip('"')
        where[client].add(upstream)
        if uri.startswith("/_stcore/stream") and client != "127.0.0.1":  # not load's warm-up
            per_replica[upstream] += 1
    return dict(sorted(per_replica.items())), sum(1 for s in where.values() if len(s) > 1)


def start_replicas(ports: list[int], logs: Path, started: list) -> None:
    """Start one server per port at once (each in its own process group); every one that
    started is in ``started`` (for ``finally``) even when another failed."""
    from load import MAIN

    from vizapp.testing import start_streamlit

    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(port: int) -> None:
        try:
            proc = start_streamlit(MAIN, port,
                                   log=logs / f"replica-{port}.log")
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)
            return
        with lock:
            started.append(proc)

    threads = [threading.Thread(target=one, args=(p,)) for p in ports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


async def warm(ports: list[int], model: str, timeout: float) -> None:
    """One session per replica, straight to it (not through the proxy): every worker has
    imported torch and analysed the opening configuration before the class arrives."""
    from load import Session

    async def one(port: int) -> None:
        async with Session(port, timeout) as s:
            await s.rerun(f"model={model}")

    await asyncio.gather(*(one(p) for p in ports))


def run_replicas(n: int, nginx: str, args, deadline: float) -> list[dict]:
    """Every step of ``--sessions`` against ``n`` fresh replicas behind a fresh nginx."""
    from load import bench

    from vizapp.testing import free_port, stop_streamlit

    results: list[dict] = []
    procs: list[subprocess.Popen] = []
    proxy = None
    tmp = Path(tempfile.mkdtemp(prefix="vizapp-replicas-"))
    try:
        tmp.chmod(0o755)  # nginx's worker (nobody, when started as root) reads its temp paths
        ports = [free_port() for _ in range(n)]
        t0 = time.perf_counter()
        start_replicas(ports, tmp, procs)
        listen = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_conf(tmp, ports, listen))
        proxy = start_nginx(nginx, tmp, conf, listen)
        asyncio.run(warm(ports, args.model, args.timeout))
        print(f"{n} replica(s) on ports {', '.join(map(str, ports))}, nginx on {listen}: "
              f"started and warm in {time.perf_counter() - t0:.1f} s", flush=True)
        offset = 0
        for sessions in args.sessions:
            if time.time() > deadline:
                print(f"  (budget spent: no step of {sessions} sessions)")
                break
            step = argparse.Namespace(**vars(args))
            step.sessions, step.offset, step.source_ip = sessions, offset, "spread"
            offset += sessions * args.changes  # new configurations for every step
            log = tmp / "access.log"
            log.write_text("")  # nginx appends: this step's lines only
            r = asyncio.run(bench(listen, step, procs))
            r["replicas"], (r["per_replica"], r["moved"]) = n, spread(log)
            r["held"] = not r["errors"] and not r["stuck"] and \
                r["change_p95"] <= TARGET_P95
            results.append(r)
            print(f"  {sessions:3d} sessions: {len(r['errors'])} errors, {r['stuck']} stuck; "
                  f"open p95 {r['open_p95']:.2f} s; change p50 {r['change_p50']:.2f} s, "
                  f"p95 {r['change_p95']:.2f} s; sessions per replica "
                  f"{list(r['per_replica'].values())}; addresses on >1 replica: {r['moved']}; "
                  f"RSS peak {r['rss_peak_mb']:.0f} MB", flush=True)
            for e in r["errors"][:3]:
                print("    error:", e)
            if not r["held"]:
                break
    finally:
        if proxy is not None:
            stop_streamlit(proxy)
        for p in procs:
            stop_streamlit(p)
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", default="1,2", help="replica counts to measure, e.g. 1,2")
    ap.add_argument("--sessions", default="10,20,30",
                    help="session counts, in order; a replica count stops at its first miss")
    ap.add_argument("--changes", type=int, default=3)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--think", type=float, default=2.0, help="mean seconds between changes")
    ap.add_argument("--timeout", type=float, default=60.0, help="a run slower than this = stuck")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds after close before RSS")
    ap.add_argument("--budget", type=float, default=900.0,
                    help="seconds; no new step starts after this")
    ap.add_argument("--nginx", default=None, help="the nginx binary (default: Debian's)")
    args = ap.parse_args(argv)
    nginx = find_nginx(args.nginx)
    if nginx is None:
        print("bench/replicas.py: skipped, nginx is not installed (apt-get install nginx, or "
              "--nginx PATH); nothing was started.")
        return 0
    args.replicas = [int(x) for x in args.replicas.split(",") if x.strip()]
    args.sessions = [int(x) for x in args.sessions.split(",") if x.strip()]
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    deadline = time.time() + args.budget
    results = []
    for n in args.replicas:
        results += run_replicas(n, nginx, args, deadline)
    print(f"\nsessions held at change p95 ≤ {TARGET_P95:g} s, 0 errors, 0 stuck "
          f"({args.changes} changes each on {args.model}, think {args.think:g} s):")
    for n in args.replicas:
        steps = [r for r in results if r["replicas"] == n]
        held = [r for r in steps if r["held"]]
        best = held[-1] if held else None
        tried = ", ".join(f"{r['sessions']}: p95 {r['change_p95']:.2f} s" for r in steps)
        print(f"  {n} replica(s): " + (f"{best['sessions']} sessions" if best else
                                       f"fewer than {args.sessions[0]}")
              + (f" ({tried})" if tried else ""))
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    (out / "bench_replicas.json").write_text(json.dumps(results, indent=2))
    return 0 if results and all(not r["errors"] and not r["stuck"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
