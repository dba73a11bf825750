"""Two `deskscribe serve` processes on one PostgreSQL database, one blob directory and one key
file, as a collector scaled out runs: uploads whose chunks alternate between them (and are
retried at the other) land exactly once; concurrent requests for one build, sent to both, yield
one dataset; and a collector killed -9 while it holds a build loses the job, once its lease runs
out, to the other, which records the dataset once. Over HTTP, each process stopped by PID."""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from deskscribe.cli.collector import BUILD_LEASE_S
from deskscribe.client import CollectorClient
from deskscribe.collector.build_jobs import LEASE_S
from deskscribe.collector.schema import chunks, datasets, sessions
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.datadir import DataDir
from deskscribe.envelope import load_or_create_private, wrap_key
from deskscribe.keystore import FileKeyBackend
from deskscribe.upload import Uploader
from tests.collector.conftest import Postgres
from tests.collector.test_abuse import CollectorProcess
from tests.collector.test_build_jobs import builds_recorded
from tests.collector.test_datasets import typed_session
from tests.support import sealed_session, wait_built

LEASE = 3.0  # seconds: a dead holder's build is free this long after its last renewal
MIB = 1024 * 1024


@dataclass
class Pair:
    """Two collector processes and the database they share, as the collector's machine sees it."""

    procs: tuple[CollectorProcess, CollectorProcess]
    store: CollectorStore
    blobs: Path

    def client(self, i: int, token: str) -> httpx.Client:
        """A device's connection to collector ``i % 2``."""
        return httpx.Client(base_url=self.procs[i % 2].url, headers={"Authorization": f"Bearer {token}"},
                            timeout=30)

    def enrol(self, i: int, role: str) -> dict[str, str]:
        r = httpx.post(f"{self.procs[i % 2].url}/v1/enrol", json={"code": self.store.create_enrol_code(role)},
                       timeout=30)
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.fixture
def pair(postgres: Postgres, tmp_path: Path, env: dict[str, str]) -> Iterator[Pair]:
    db, key = postgres.new_database(), tmp_path / "collector.key"
    store = CollectorStore.open(engine=connect(db), blobs=tmp_path / "blobs",
                                private_key=load_or_create_private(key))  # migrated before either starts
    procs = tuple(CollectorProcess(tmp_path, env, db, "--key-file", str(key), "--build-lease-s", str(LEASE))
                  for _ in range(2))
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(CollectorProcess.start, procs))
        yield Pair(procs=(procs[0], procs[1]), store=store, blobs=tmp_path / "blobs")
    finally:
        for p in procs:
            p.stop()
        store.engine.dispose()


def crowd(pair: Pair, tmp: Path, n: int = 10) -> list[tuple[str, str]]:
    """``n`` contributors, each enrolled and uploading at one collector and depositing their key
    at the other; their (contributor, session) pairs."""
    out = []
    for i in range(n):
        root = tmp / f"person{i}"
        dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
        sid = typed_session(dd, f"canary{i:02d}text")
        who = pair.enrol(i, "contributor")
        with pair.client(i, who["token"]) as c:
            Uploader(client=CollectorClient(http=c)).upload(sid, dd.path_of(sid))
        wrapped = wrap_key(dd.data_key(), recipient=base64.b64decode(who["collector_key"]),
                           contributor=who["contributor_id"])
        with pair.client(i + 1, who["token"]) as c:
            CollectorClient(http=c).deposit_key(wrapped)
        out.append((who["contributor_id"], sid))
    return out


def wait_ready(pair: Pair, i: int, steward: str, ds: str, timeout: float = 60) -> dict[str, object]:
    with pair.client(i, steward) as c:
        return wait_built(c, ds, timeout)


def dataset_dirs(pair: Pair) -> list[str]:
    """What the dataset store holds: finished datasets and any file a build left half-made."""
    return sorted(p.name for p in (pair.blobs / "_datasets").iterdir())


# -- uploads ----------------------------------------------------------------------------------

def pieces_of(tmp: Path, name: str, events: int) -> tuple[str, bytes, list[bytes]]:
    root = tmp / name
    sid = sealed_session(root, events)
    data = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key")).path_of(sid).read_bytes()
    pieces = [data[i:i + MIB] for i in range(0, len(data), MIB)]
    assert len(pieces) >= 3
    return sid, data, pieces


def put_at_both(pair: Pair, token: str, sid: str, idx: int, piece: bytes) -> list[bool]:
    """The same chunk sent to both collectors at one moment: a retry racing the first attempt."""
    start, answers = threading.Barrier(2), []

    def put(i: int) -> None:
        with pair.client(i, token) as c:
            start.wait()
            answers.append(CollectorClient(http=c, sleep=lambda s: time.sleep(0.05)).put_chunk(sid, idx, piece))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(answers)


def assert_held_once(pair: Pair, who: dict[str, str], sid: str, data: bytes, pieces: list[bytes]) -> None:
    """Every chunk in the table once, in the counters once, on disk once, and read back whole."""
    with pair.store.engine.connect() as c:
        held = c.execute(select(chunks.c.idx, chunks.c.size, chunks.c.sha256).where(chunks.c.session_id == sid)
                         .order_by(chunks.c.idx)).all()
        row = c.execute(select(sessions).where(sessions.c.id == sid)).one()
    assert [(r.idx, r.size, r.sha256) for r in held] == [
        (i, len(p), hashlib.sha256(p).hexdigest()) for i, p in enumerate(pieces)]
    assert row.bytes == len(data) and row.chunks == len(pieces)  # no chunk counted twice
    files = sorted((pair.blobs / who["contributor_id"] / sid).iterdir())
    assert [f.name for f in files] == [f"{i:06d}" for i in range(len(pieces))]  # nothing half-written left
    assert [f.read_bytes() for f in files] == pieces
    for i in range(2):
        with pair.client(i, who["token"]) as c:
            client = CollectorClient(http=c)
            assert client.chunks_held(sid) == list(range(len(pieces)))
            back = b"".join(client.read_chunk(sid, n) for n in range(i, len(pieces), 2))
        assert back == b"".join(pieces[i::2])


def test_uploads_alternating_between_two_collector_processes_land_exactly_once(
        pair: Pair, tmp_path: Path) -> None:
    who = pair.enrol(0, "contributor")
    token = who["token"]
    sid, data, pieces = pieces_of(tmp_path, "one", 3000)
    for idx, piece in enumerate(pieces):  # chunk i to collector i % 2, retried at the other, then at both
        with pair.client(idx, token) as c:
            assert CollectorClient(http=c).put_chunk(sid, idx, piece)
        with pair.client(idx + 1, token) as c:
            assert not CollectorClient(http=c).put_chunk(sid, idx, piece)
        assert put_at_both(pair, token, sid, idx, piece) == [False, False]
    with pair.client(len(pieces), token) as c:
        CollectorClient(http=c).complete(sid, len(pieces))
    racing, raced, racing_pieces = pieces_of(tmp_path, "two", 3000)
    for idx, piece in enumerate(racing_pieces):  # every first attempt races its retry
        assert put_at_both(pair, token, racing, idx, piece) == [False, True]
    with pair.client(1, token) as c:
        CollectorClient(http=c).complete(racing, len(racing_pieces))
    assert_held_once(pair, who, sid, data, pieces)
    assert_held_once(pair, who, racing, raced, racing_pieces)


# -- builds -----------------------------------------------------------------------------------

def test_concurrent_build_requests_to_both_collectors_yield_one_dataset(pair: Pair, tmp_path: Path) -> None:
    crowd(pair, tmp_path)
    steward = pair.enrol(0, "steward")["token"]
    start, answers = threading.Barrier(4), []

    def ask(i: int) -> None:
        with pair.client(i, steward) as c:
            start.wait()
            answers.append(c.post("/v1/datasets", json={"format": "jsonl"}))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]  # two requests at each
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [202] * 4, [r.text for r in answers]
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == 1  # the build both collectors were asked for answers every request
    ds = ids.pop()
    assert wait_ready(pair, 1, steward, ds)["state"] == "ready"
    with pair.store.engine.connect() as c:
        assert c.execute(select(datasets.c.id, datasets.c.state)).all() == [(ds, "ready")]
    assert builds_recorded(pair.store, ds) == 1
    assert dataset_dirs(pair) == [ds]


def holder_of(pair: Pair, path: Path, timeout: float = 10) -> CollectorProcess:
    """The collector process that has ``path`` open, once it has."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in pair.procs:
            for fd in Path(f"/proc/{proc.pid}/fd").iterdir():
                with contextlib.suppress(FileNotFoundError):  # closed meanwhile
                    if os.readlink(fd) == str(path):
                        return proc
        assert time.monotonic() < deadline, f"no collector opened {path}"
        time.sleep(0.05)


def stalled(path: Path, timeout: float = 30) -> int:
    """Wait for a build to reach ``path``, a FIFO it then blocks on; the FIFO's write end."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until a reader has it open
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_collector_killed_holding_a_build_loses_it_to_the_other(pair: Pair, tmp_path: Path) -> None:
    assert BUILD_LEASE_S == LEASE_S  # the serve command's default is the builds' own
    people = crowd(pair, tmp_path)
    steward = pair.enrol(0, "steward")["token"]
    who, sid = people[0]
    blob = pair.blobs / who / sid / "000000"
    real = blob.read_bytes()
    blob.unlink()
    os.mkfifo(blob)  # the build that reads it waits there, holding the job, until it is fed
    writer = -1
    try:
        with pair.client(0, steward) as c:
            r = c.post("/v1/datasets", json={"format": "jsonl"})
        assert r.status_code == 202, r.text
        ds = r.json()["id"]
        writer = stalled(blob)
        holder = holder_of(pair, blob)
        survivor = next(i for i, p in enumerate(pair.procs) if p is not holder)
        time.sleep(LEASE * 1.5)  # past its first lease: it renews, so the other may not take the job
        with pair.store.engine.connect() as c:
            held = c.execute(select(datasets).where(datasets.c.id == ds)).one()
        assert held.state == "building" and held.attempts == 1 and held.lease_owner
        os.kill(holder.pid, signal.SIGKILL)
        assert holder.proc is not None
        holder.proc.wait(timeout=30)
        (blob.parent / "fed").write_bytes(real)
        os.replace(blob.parent / "fed", blob)
        done = wait_ready(pair, survivor, steward, ds)
    finally:
        if writer >= 0:
            os.close(writer)
    assert done["state"] == "ready" and done["contributors"] == 10
    with pair.store.engine.connect() as c:
        row = c.execute(select(datasets).where(datasets.c.id == ds)).one()
    assert row.attempts == 2 and row.lease_owner is None and row.pending is None
    assert builds_recorded(pair.store, ds) == 1
    assert dataset_dirs(pair) == [ds]
    engineer = pair.enrol(survivor, "ml_engineer")["token"]
    with pair.client(survivor, engineer) as c:
        names = c.get(f"/v1/datasets/{ds}/files").json()["files"]
        assert names and all(c.get(f"/v1/datasets/{ds}/files/{n}").status_code == 200 for n in names)
