"""The department recipe as shipped: ``deploy/nginx/vizapp.conf`` (sticky by the full client
address, websocket upgrade, /media on the replica that made it) and ``bench/replicas.py``'s
plumbing (its nginx.conf, its skip without nginx, sessions from distinct loopback addresses).
The load run itself is a benchmark, not a test: ``python bench/replicas.py``."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "deploy" / "nginx" / "vizapp.conf"
sys.path.insert(0, str(ROOT / "bench"))

import load  # noqa: E402
import replicas  # noqa: E402


def directives(text: str) -> str:
    """The config without its comments."""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def block(text: str, head: str) -> str:
    """The body of the ``head { ... }`` block (no nested braces in the ones asked for)."""
    m = re.search(re.escape(head) + r"\s*\{([^{}]*)\}", text)
    assert m, f"no block {head!r}"
    return m.group(1)


def test_the_upstream_hashes_the_full_client_address():
    conf = directives(SITE.read_text())
    upstream = block(conf, "upstream vizapp_replicas")
    assert re.search(r"^\s*hash\s+\$remote_addr\s+consistent;", upstream, re.M)
    assert "ip_hash" not in conf  # three octets only: a classroom subnet on one replica
    assert len(re.findall(r"^\s*server\s+127\.0\.0\.1:\d+;", upstream, re.M)) >= 2
    # every location goes through the hashed upstream: pages, websocket and media alike
    passes = re.findall(r"proxy_pass\s+(\S+);", conf)
    assert passes and set(passes) == {"http://vizapp_replicas"}


def test_the_websocket_location_upgrades_and_stays_open():
    conf = directives(SITE.read_text())
    ws = block(conf, "location /_stcore/stream")
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", ws)
    assert re.search(r"proxy_set_header\s+Connection\s+\$vizapp_connection;", ws)
    assert re.search(r"map\s+\$http_upgrade\s+\$vizapp_connection\s*\{[^}]*default\s+upgrade;",
                     conf)
    assert re.search(r"proxy_set_header\s+Host\s+\$http_host;", ws)  # Origin must match Host
    assert re.search(r"proxy_read_timeout\s+1d;", ws)
    assert "proxy_http_version 1.1;" in conf
    media = block(conf, "location /media/")
    assert "proxy_pass http://vizapp_replicas;" in media


def test_the_bench_runs_the_shipped_site_with_its_own_ports(tmp_path):
    text = replicas.nginx_conf(tmp_path, [9101, 9102, 9103], 9200)
    assert text.count("server 127.0.0.1:") == 3
    assert all(f"server 127.0.0.1:{p};" in text for p in (9101, 9102, 9103))
    assert "listen 127.0.0.1:9200;" in text and "listen 80;" not in text
    assert "hash $remote_addr consistent;" in text
    for path in ("nginx.pid", "error.log", "access.log", "client_body", "proxy"):
        assert f"{tmp_path}/{path}" in text  # nothing under /var or /run: no root needed
    assert "daemon off;" in text


def test_nginx_accepts_the_generated_config(tmp_path):
    nginx = replicas.find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    conf = tmp_path / "nginx.conf"
    conf.write_text(replicas.nginx_conf(tmp_path, [9101, 9102], 9200))
    r = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                        "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_without_nginx_the_bench_skips_and_starts_nothing():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "replicas.py"),
                        "--nginx", "/nonexistent/nginx"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0
    assert "skipped, nginx is not installed" in r.stdout and "nothing was started" in r.stdout


def test_spread_sessions_come_from_distinct_loopback_addresses():
    assert [load.source_ip(k, "spread") for k in (0, 1, 249, 250)] == \
        ["127.0.0.2", "127.0.0.3", "127.0.0.251", "127.0.0.2"]
    assert load.source_ip(3, "127.0.0.9") == "127.0.0.9" and load.source_ip(3, None) is None

    import websockets

    seen = []

    async def handler(ws):
        seen.append(ws.remote_address[0])
        await ws.close()

    async def main():
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            for k in range(3):
                async with load.Session(port, 5, load.source_ip(k, "spread")) as s:
                    await s.ws.wait_closed()

    asyncio.run(main())
    assert seen == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def test_the_access_log_tells_the_spread_and_stickiness(tmp_path):
    log = tmp_path / "access.log"
    log.write_text('127.0.0.2 127.0.0.1:9101 "/_stcore/stream" 101 3.2\n'
                   '127.0.0.3 127.0.0.1:9102 "/_stcore/stream" 101 3.1\n'
                   '127.0.0.4 127.0.0.1:9101 "/_stcore/stream" 101 3.0\n'
                   '127.0.0.4 127.0.0.1:9101 "/media/abc.png" 200 0.0\n'
                   '127.0.0.1 127.0.0.1:9102 "/_stcore/stream" 101 1.0\n'  # load's warm-up
                   '127.0.0.5 - "/_stcore/health" 502 0.0\n')
    assert replicas.spread(log) == ({"127.0.0.1:9101": 2, "127.0.0.1:9102": 1}, 0)
    log.write_text(log.read_text() + '127.0.0.3 127.0.0.1:9101 "/media/x.png" 200 0.0\n')
    assert replicas.spread(log)[1] == 1  # an address answered by two replicas
