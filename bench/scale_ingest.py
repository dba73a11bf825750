"""Upload throughput of one collector process against two on the same PostgreSQL: N devices
upload at once, 1 MiB chunks, into one `deskscribe serve`; then into two (one database, one blob
directory, one key file, as a collector scaled out runs), with the devices split between them
(as a load balancer keeping each device's connection places them) and with each device's chunks
alternating between them. A chunk counts once a collector has fsync'd its blob and committed
its row.

The chunks are a real sealed session file (the recorder's encrypted store), uploaded under a new
session id by each device. Rounds alternate between the two set-ups, all on one database, and
each figure is the median of its rounds; every round checks that each chunk was stored once.

    .venv/bin/python bench/scale_ingest.py [--uploaders 8] [--mib 4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# bench/ is not a package: its scripts import the test helpers from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select
from tests.collector.conftest import Postgres
from tests.collector.test_abuse import CollectorProcess
from tests.support import sealed_session

from deskscribe.client import CollectorClient
from deskscribe.collector.schema import chunks
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.datadir import DataDir
from deskscribe.envelope import load_or_create_private
from deskscribe.keystore import FileKeyBackend

MIB = 1024 * 1024
EVENTS_PER_MIB = 1250  # sealed_session's events are ~0.8 KiB each once compressed and sealed


# How device k's chunk i is routed: to collector 0, to the device's collector, or alternating.
ROUTES: dict[str, Callable[[int, int], int]] = {
    "one collector process": lambda k, i: 0,
    "two, devices split": lambda k, i: k % 2,
    "two, chunks alternating": lambda k, i: (k + i) % 2,
}


@dataclass(frozen=True)
class Round:
    route: str
    seconds: float
    chunks: int
    bytes: int
    client_cpu: float  # CPU seconds the uploading devices (this process) used in the round
    server_cpu: float  # and the collector processes, together

    @property
    def chunks_s(self) -> float:
        return self.chunks / self.seconds

    @property
    def mb_s(self) -> float:
        return self.bytes / self.seconds / 1e6


def session_chunks(tmp: Path, mib: int) -> list[bytes]:
    root = tmp / "device"
    sid = sealed_session(root, EVENTS_PER_MIB * mib)
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    data = dd.path_of(sid).read_bytes()
    return [data[i:i + MIB] for i in range(0, len(data), MIB)]


def upload_round(urls: Sequence[str], tokens: Sequence[str], pieces: Sequence[bytes],
                 route: Callable[[int, int], int]) -> float:
    """Wall seconds for every device to upload ``pieces`` as a new session, device k's chunk i
    going to collector ``route(k, i)`` (and its completion as a chunk after the last)."""
    def one(k: int) -> None:
        sid = f"bench-{secrets.token_hex(6)}"
        clients = [httpx.Client(base_url=u, headers={"Authorization": f"Bearer {tokens[k]}"}, timeout=120)
                   for u in urls]
        try:
            for i, piece in enumerate(pieces):
                assert CollectorClient(http=clients[route(k, i)]).put_chunk(sid, i, piece)
            CollectorClient(http=clients[route(k, len(pieces))]).complete(sid, len(pieces))
        finally:
            for c in clients:
                c.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        list(pool.map(one, range(len(tokens))))
    return time.perf_counter() - t0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one by default), all its threads."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def servers_cpu(procs: Sequence[CollectorProcess]) -> float:
    return sum(cpu_seconds(p.pid) for p in procs)


def stored_chunks(store: CollectorStore) -> int:
    with store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(chunks)).scalar_one())


def measure(tmp: Path, db: str, *, uploaders: int, mib: int, rounds: int) -> list[Round]:
    key, blobs = tmp / "collector.key", tmp / "blobs"
    store = CollectorStore.open(engine=connect(db), blobs=blobs, private_key=load_or_create_private(key))
    config = tmp / "config.toml"
    config.write_text('[recorder]\nkey_store = "file"\n')
    env = {**os.environ, "DESKSCRIBE_CONFIG": str(config)}
    procs = [CollectorProcess(tmp, env, db, "--key-file", str(key)) for _ in range(2)]
    try:
        for p in procs:
            p.start()
        codes = [store.create_enrol_code() for _ in range(uploaders)]
        tokens = [str(httpx.post(f"{procs[0].url}/v1/enrol", json={"code": code}, timeout=30).json()["token"])
                  for code in codes]
        pieces = session_chunks(tmp, mib)
        size = sum(len(p) for p in pieces)
        urls = [p.url for p in procs]
        upload_round(urls, tokens, pieces, ROUTES["two, devices split"])  # untimed: caches, first tables
        out = []
        for name in list(ROUTES) * rounds:
            before, client, server = stored_chunks(store), cpu_seconds(), servers_cpu(procs)
            secs = upload_round(urls, tokens, pieces, ROUTES[name])
            client, server = cpu_seconds() - client, servers_cpu(procs) - server
            stored = stored_chunks(store) - before
            assert stored == uploaders * len(pieces), f"{stored} chunks stored of {uploaders * len(pieces)}"
            out.append(Round(name, secs, uploaders * len(pieces), uploaders * size, client, server))
        return out
    finally:
        for p in procs:
            p.stop()
        store.engine.dispose()


def figures(found: Sequence[Round], *, uploaders: int) -> list[str]:
    def median(name: str) -> Round:
        mine = [r for r in found if r.route == name]
        return Round(name, statistics.median(r.seconds for r in mine), mine[0].chunks, mine[0].bytes,
                     statistics.median(r.client_cpu for r in mine),
                     statistics.median(r.server_cpu for r in mine))

    medians = [median(name) for name in ROUTES]
    one = medians[0]
    rounds = len(found) // len(ROUTES)
    lines = [f"ingest: {uploaders} devices at once, each uploading {one.chunks // uploaders} chunks"
             f" ({one.bytes / uploaders / MIB:.1f} MiB), one PostgreSQL, median of {rounds} rounds"]
    for r in medians:
        ratio = "" if r is one else f"  {r.chunks_s / one.chunks_s:.2f}x one"
        cpu = f"devices {r.client_cpu / r.seconds:.2f}, collectors {r.server_cpu / r.seconds:.2f}"
        lines.append(f"  {r.route:24s} {r.chunks_s:6.1f} chunks/s {r.mb_s:6.1f} MB/s{ratio:11s}"
                     f"  CPU s per wall s: {cpu}")
    return lines


def main_figures(*, uploaders: int = 8, mib: int = 4, rounds: int = 5) -> list[str]:
    """The figure as printable lines; starts and stops its own PostgreSQL and collectors."""
    tmp = Path(tempfile.mkdtemp(prefix="deskscribe-scale-ingest-"))
    pg = Postgres().start()
    try:
        found = measure(tmp, pg.new_database(), uploaders=uploaders, mib=mib, rounds=rounds)
        return figures(found, uploaders=uploaders)
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uploaders", type=int, default=8, help="devices uploading at once")
    ap.add_argument("--mib", type=int, default=4, help="MiB each device uploads per round")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds of each set-up")
    args = ap.parse_args()
    for line in main_figures(uploaders=args.uploaders, mib=args.mib, rounds=args.rounds):
        print(line)


if __name__ == "__main__":
    main()
