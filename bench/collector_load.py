"""The collector under load and abuse at once, as its own `deskscribe serve` process on
loopback: 8 devices uploading sealed sessions at full speed (the real Uploader and
CollectorClient), one client sending 400 MiB chunk bodies over and over, and slow clients
trickling or stalling their bodies. Sampled throughout: the collector's resident memory and
the latency of /healthz; counted afterwards: honest chunks stored (exactly once) and what the
oversized and slow requests got and left behind.

``--baseline SRC`` runs another checkout's collector (``SRC/src`` on its path, e.g. the
previous commit's tree from ``git archive HEAD~1 src | tar -x -C SRC``) through the same run.

    .venv/bin/python bench/collector_load.py [--sessions 10] [--postgres] [--baseline /tmp/prev] [--no-abuse]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.collector.conftest import Postgres
from tests.collector.test_abuse import MIB, CollectorProcess, chunk_head, chunked, push
from tests.support import sealed_session

from deskscribe.client import CollectorClient
from deskscribe.upload import Uploader

UPLOADERS = 8
OVERSIZED = 400 * MIB
SAMPLE_S = 0.02


@dataclass
class Run:
    name: str
    figures: dict[str, str] = field(default_factory=dict)


class Sampler(threading.Thread):
    """Calls ``probe`` every SAMPLE_S until stopped; keeps what it returns."""

    def __init__(self, probe: Callable[[], float]) -> None:
        super().__init__(daemon=True)
        self.probe = probe
        self.values: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_S):
            with contextlib.suppress(OSError, httpx.HTTPError):
                self.values.append(self.probe())


def healthz_latency(http: httpx.Client) -> Callable[[], float]:
    def probe() -> float:
        t0 = time.perf_counter()
        http.get("/healthz").raise_for_status()
        return time.perf_counter() - t0
    return probe


def slow_client(port: int, token: str, name: str, stop: threading.Event, outcomes: Counter[str]) -> None:
    """Sends a 1000-byte chunk body a byte every 0.2 s (or none at all), again each time it is
    cut off, until ``stop``."""
    trickle = name.startswith("trickle")
    while not stop.is_set():
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(0.2)
        try:
            sock.sendall(chunk_head(name, token, length=1000))
            for _ in range(1000):
                if stop.is_set():
                    outcomes["still connected at the end"] += 1
                    return
                if trickle:
                    sock.sendall(b"y")
                try:
                    sock.recv(65536)  # an answer, or the end of the connection
                except TimeoutError:
                    continue
                outcomes["cut off"] += 1
                break
        except OSError:
            outcomes["cut off"] += 1
        finally:
            sock.close()


def oversized_client(port: int, token: str, stop: threading.Event, outcomes: Counter[str]) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        declared = n % 2 == 0
        head = chunk_head(f"abuse{n}", token, length=OVERSIZED if declared else None)
        sent, answer = push(port, head, [b"x" * MIB] * (OVERSIZED // MIB) if declared else chunked(OVERSIZED))
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "cut"
        outcomes[f"{status}"] += 1
        outcomes["bytes taken"] += sent


def one_oversized_body(server: CollectorProcess, token: str) -> int:
    """KiB the collector's resident high-water mark rises by for one 400 MiB streamed body."""
    before = server.memory_kib()["VmHWM"]
    push(server.port, chunk_head("single", token, length=None), chunked(OVERSIZED))
    return server.memory_kib()["VmHWM"] - before


def load(name: str, tmp: Path, db: str, session: Path, sessions: int, env: dict[str, str],
         extra: tuple[str, ...], *, abuse: bool = True) -> Run:
    run = Run(name)
    tmp.mkdir(parents=True)
    server = CollectorProcess(tmp, env, db, *extra).start()
    try:
        tokens = [server.token() for _ in range(UPLOADERS + 2)]
        rise = one_oversized_body(server, tokens[-1])
        run.figures["RSS rise, one 400 MiB body (MiB)"] = f"{rise / 1024:.0f}"
        rss = Sampler(lambda: server.memory_kib()["VmRSS"] / 1024)
        http = httpx.Client(base_url=server.url, timeout=60)
        health = Sampler(healthz_latency(http))
        stop = threading.Event()
        slow: Counter[str] = Counter()
        big: Counter[str] = Counter()
        abusers = [threading.Thread(target=oversized_client, args=(server.port, tokens[-2], stop, big)),
                   *(threading.Thread(target=slow_client, args=(server.port, tokens[-2], n, stop, slow))
                     for n in ("trickle1", "trickle2", "stall1"))] if abuse else []
        for t in (rss, health, *abusers):
            t.start()

        def upload(i: int) -> int:
            with CollectorClient(base_url=server.url, token=tokens[i]) as client:
                return sum(Uploader(client=client).upload(f"u{i}s{j}", session) for j in range(sessions))

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=UPLOADERS) as pool:
            sent = sum(pool.map(upload, range(UPLOADERS)))
        took = time.perf_counter() - t0
        stop.set()
        for t in abusers:
            t.join()
        rss.stop.set()
        health.stop.set()
        rss.join()
        health.join()
        http.close()
        parts = -(-session.stat().st_size // MIB)
        lat = sorted(health.values)
        abuse_rows = server.rows("sessions") - UPLOADERS * sessions
        run.figures |= {
            "upload wall time (s)": f"{took:.1f}",
            "collector peak RSS under load (MiB)": f"{max(rss.values):.0f}",
            "/healthz samples": str(len(lat)),
            "/healthz p99 (ms)": f"{lat[int(len(lat) * 0.99) - 1] * 1000:.0f}" if lat else "-",
            "/healthz max (ms)": f"{lat[-1] * 1000:.0f}" if lat else "-",
            "/healthz median (ms)": f"{statistics.median(lat) * 1000:.1f}" if lat else "-",
            "honest chunks sent / stored / expected": f"{sent} / {server.rows('chunks')} /"
                                                      f" {UPLOADERS * sessions * parts}",
            "oversized requests: answers": ", ".join(f"{k}: {v}" for k, v in sorted(big.items())
                                                     if k != "bytes taken"),
            "oversized requests: MiB taken in": f"{big['bytes taken'] / MIB:.0f}",
            "oversized requests: sessions / blobs left": f"{abuse_rows} /"
                                                         f" {_blobs_of(server, tokens[-2])}",
            "slow clients": ", ".join(f"{k}: {v}" for k, v in sorted(slow.items())),
        }
    finally:
        server.stop()
    return run


def _blobs_of(server: CollectorProcess, token: str) -> int:
    contributor = httpx.get(f"{server.url}/v1/me/sessions", headers={"Authorization": f"Bearer {token}"},
                            timeout=10).json()["contributor_id"]
    where = server.blobs / contributor
    return sum(1 for p in where.rglob("*") if p.is_file()) if where.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="sessions each uploader sends (8 MiB each)")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite")
    parser.add_argument("--baseline", type=Path, help="another checkout whose collector to run the same way")
    parser.add_argument("--no-abuse", action="store_true", help="the uploaders alone, no abusive clients")
    args = parser.parse_args()
    if not 1 <= args.sessions <= 20:
        parser.error("--sessions must be 1-20")
    if args.baseline is not None and not (args.baseline / "src" / "deskscribe").is_dir():
        parser.error(f"{args.baseline} is not a deskscribe checkout (no src/deskscribe)")
    tmp = Path(tempfile.mkdtemp(prefix="deskscribe-load-"))
    pg = Postgres().start() if args.postgres else None
    try:
        home = tmp / "home"
        home.mkdir()
        (home / "config.toml").write_text('[recorder]\nkey_store = "file"\n')
        env = {**os.environ, "DESKSCRIBE_CONFIG": str(home / "config.toml"), "XDG_DATA_HOME": str(home)}
        device = tmp / "device"
        sid = sealed_session(device, events=10_000)
        session = device / "sessions" / f"{sid}.db"
        targets: list[tuple[str, dict[str, str], tuple[str, ...]]] = [
            ("deskscribe", env, ("--read-timeout", "2", "--body-timeout", "5"))]
        if args.baseline is not None:
            targets.append((f"baseline ({args.baseline.name})",
                            {**env, "PYTHONPATH": str(args.baseline.resolve() / "src")}, ()))
        runs = []
        for i, (name, target_env, extra) in enumerate(targets):
            db = pg.new_database() if pg else f"sqlite:///{tmp / f'c{i}.db'}"
            runs.append(load(name, tmp / f"run{i}", db, session, args.sessions, target_env, extra,
                             abuse=not args.no_abuse))
        print(f"session file {session.stat().st_size / MIB:.1f} MiB, {UPLOADERS} uploaders x {args.sessions}"
              f" sessions, database {'PostgreSQL' if pg else 'SQLite'}")
        print("| metric | " + " | ".join(r.name for r in runs) + " |")
        print("|---|" + "---:|" * len(runs))
        for key in runs[0].figures:
            print(f"| {key} | " + " | ".join(r.figures.get(key, "-") for r in runs) + " |")
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
