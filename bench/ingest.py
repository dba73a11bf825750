"""Durable ingestion: recorded events per second the collector stores, over HTTP, on SQLite and
on PostgreSQL, against the raw speed of writing the same bytes to disk with fsync.

Sessions are real sealed session files written through the encrypted store (pointer moves,
clicks, typing, scrolls, frames: `bench/build.py`'s synthetic office work). Several devices
upload copies in parallel through `deskscribe.upload.Uploader` to a collector served by
uvicorn on loopback; a chunk counts once the server has fsync'd its blob and committed its row.

    .venv/bin/python bench/ingest.py [--hours 1] [--uploads 8]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build import Synth
from tests.collector.conftest import Postgres, Served

from deskscribe.client import CollectorClient
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.datadir import DataDir
from deskscribe.envelope import new_collector_key
from deskscribe.events import Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend
from deskscribe.upload import Uploader


def session_file(root: Path, hours: float) -> tuple[Path, int]:
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 1280, 800),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    synth = Synth(w, random.Random(1))
    for _ in range(int(hours * 60)):
        synth.minute()
        w.flush()
    w.close(seal=True)
    return dd.path_of(sid), w.events_written


def ingest(url: str, tmp: Path, path: Path, uploads: int) -> float:
    """Wall seconds for ``uploads`` devices to each upload one copy of ``path``."""
    store = CollectorStore.open(engine=connect(url), blobs=tmp / "blobs", private_key=new_collector_key())
    served = Served(store).start()
    try:
        tokens = [store.enrol(store.create_enrol_code())[1] for _ in range(uploads)]

        def one(i: int) -> None:
            with served.client(tokens[i]) as http:
                Uploader(client=CollectorClient(http=http)).upload(f"s{i}", path)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=uploads) as pool:
            list(pool.map(one, range(uploads)))
        return time.perf_counter() - t0
    finally:
        served.stop()
        store.engine.dispose()


def raw_disk(tmp: Path, path: Path, uploads: int) -> float:
    data = path.read_bytes()
    t0 = time.perf_counter()
    for i in range(uploads):
        with open(tmp / f"copy{i}", "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0, help="recorded hours per session file")
    ap.add_argument("--uploads", type=int, default=8, help="devices uploading in parallel")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="deskscribe-ingest-"))
    pg = Postgres().start()
    try:
        path, events = session_file(tmp / "device", args.hours)
        total = events * args.uploads
        size = path.stat().st_size
        print(f"session: {args.hours:g} h, {events:,} events, {size / 2**20:.1f} MiB sealed; "
              f"{args.uploads} parallel uploads = {total:,} events")
        baseline = raw_disk(tmp, path, args.uploads)
        print(f"{'raw write + fsync (baseline)':32s} {total / baseline:12,.0f} events/s")
        for name, url in (("SQLite", f"sqlite:///{tmp / 'sqlite.db'}"), ("PostgreSQL", pg.new_database())):
            secs = ingest(url, tmp / name, path, args.uploads)
            mib_s = size * args.uploads / secs / 2**20
            print(f"{'collector over HTTP, ' + name:32s} {total / secs:12,.0f} events/s "
                  f"({mib_s:.0f} MiB/s, {secs / (baseline or 1e-9):.1f}x the baseline's time)")
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
