"""Several collectors on one database: builds are jobs held under a lease. Concurrent requests
for the same build yield one build; a collector killed while it holds a build loses the job to
another, which builds it once; uploads alternating between two collectors land exactly once.
Over HTTP against SQLite and a real PostgreSQL."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from deskscribe.client import CollectorClient
from deskscribe.collector.build_jobs import Leases
from deskscribe.collector.schema import audit, chunks, datasets
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key
from tests.collector.test_datasets import people
from tests.support import Served, enrol, sealed_session, wait_built


def url_of(store: CollectorStore) -> str:
    return store.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def collector_key() -> bytes:
    """The key every collector on one database holds (each is given the same --key-file)."""
    return new_collector_key()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, collector_key: bytes) -> Iterator[CollectorStore]:
    """The first collector's store, as conftest's but with its key at hand for the second."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'collector.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    engine = connect(url)
    yield CollectorStore.open(engine=engine, blobs=tmp_path / "blobs", private_key=collector_key)
    engine.dispose()


@pytest.fixture
def second(served: Served, collector_key: bytes) -> Iterator[Served]:
    """Another collector process's view: its own engine and app on the same database and blobs."""
    other = CollectorStore.open(engine=connect(url_of(served.store)), blobs=served.store.blobs,
                                private_key=collector_key)
    s = Served(other).start()
    yield s
    s.stop()
    other.engine.dispose()


def wait_ready(served: Served, steward: str, ds: str, timeout: float = 120) -> dict[str, object]:
    with served.client(steward) as c:
        return wait_built(c, ds, timeout)


def builds_recorded(store: CollectorStore, ds: str) -> int:
    with store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(audit)
                             .where(audit.c.action == "dataset_build", audit.c.subject == ds)).scalar() or 0)


def test_concurrent_requests_for_one_build_on_two_collectors_yield_one_build(
        served: Served, second: Served, tmp_path: Path) -> None:
    steward = enrol(served, "steward")["token"]
    for p in people(served, tmp_path, 10):
        p.deposit_key(served)
    start = threading.Barrier(4)
    answers: list[httpx.Response] = []

    def ask(collector: Served) -> None:
        with collector.client(steward) as c:
            start.wait()
            answers.append(c.post("/v1/datasets", json={"format": "jsonl"}))

    threads = [threading.Thread(target=ask, args=(c,)) for c in (served, second, served, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [202] * 4
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == 1  # one build answers every request
    ds = ids.pop()
    assert wait_ready(served, steward, ds)["state"] == "ready"
    with served.store.engine.connect() as db:
        assert db.execute(select(func.count()).select_from(datasets)).scalar() == 1
    assert builds_recorded(served.store, ds) == 1
    with served.client(steward) as c:  # once it is built, the same request is a new build
        assert c.post("/v1/datasets", json={"format": "jsonl"}).json()["id"] != ds


DOOMED = """
import sys, time
from pathlib import Path
from deskscribe.collector.build_jobs import Leases
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.roles import Device
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key

# it never builds, so it never unwraps a key: any key pair will do
store = CollectorStore(engine=connect(sys.argv[1]), blobs=Path(sys.argv[2]), private_key=new_collector_key())
leases = Leases(engine=store.engine, wall_ns=store.wall_ns, owner="doomed-collector", lease_s=1.5)
builds = DatasetBuilds(store=store, leases=leases)
row = builds.start(Device("steward-device", "", "steward"), "jsonl", 100)
assert leases.claim(row.id)
print(row.id, flush=True)
with leases.renewed(row.id):  # holding the build, as a collector in the middle of it
    time.sleep(3600)
"""


def test_a_collector_killed_holding_a_build_loses_it_to_another(served: Served, tmp_path: Path) -> None:
    steward = enrol(served, "steward")["token"]
    for p in people(served, tmp_path, 10):
        p.deposit_key(served)
    doomed = subprocess.Popen([sys.executable, "-c", DOOMED, url_of(served.store), str(tmp_path / "blobs")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert doomed.stdout is not None
        ds = doomed.stdout.readline().strip()
        assert ds, doomed.stderr.read() if doomed.stderr else ""
        time.sleep(2.5)  # past its first lease: it renews, so nobody else may take the job
        with served.store.engine.connect() as c:
            row = c.execute(select(datasets).where(datasets.c.id == ds)).one()
        assert row.state == "building" and row.lease_owner == "doomed-collector"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        done = wait_ready(served, steward, ds)
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait()
    assert done["state"] == "ready" and done["contributors"] == 10
    with served.store.engine.connect() as c:
        row = c.execute(select(datasets).where(datasets.c.id == ds)).one()
    assert row.attempts == 2 and row.lease_owner is None and row.pending is None
    assert builds_recorded(served.store, ds) == 1


def test_a_job_cut_off_too_often_fails_with_the_reason(served: Served) -> None:
    clock = [10**18]
    leases = [Leases(engine=served.store.engine, wall_ns=lambda: clock[0], owner=f"c{i}", lease_s=1, max_attempts=2)
              for i in range(3)]
    with served.store.engine.begin() as c:
        c.execute(datasets.insert().values(id="ab", fmt="hf", precision_ms=100, state="building", created_ns=1,
                                           contributors=0, sessions=0, episodes=0, steps=0, bytes=0,
                                           lease_until_ns=2**62))  # held by a live collector
    assert leases[0].claim_next() is None
    with served.store.engine.begin() as c:
        c.execute(datasets.update().values(lease_until_ns=None))
    assert leases[0].claim_next() == "ab" and leases[1].claim_next() is None  # held
    assert leases[0].renew("ab")
    clock[0] += 3 * 10**9  # c0 died: its lease ran out
    assert leases[1].claim_next() == "ab"
    assert not leases[0].renew("ab")  # fenced: the old holder can no longer write
    clock[0] += 3 * 10**9
    assert leases[2].claim_next() is None  # claimed twice already: given up
    with served.store.engine.connect() as c:
        row = c.execute(select(datasets).where(datasets.c.id == "ab")).one()
    assert row.state == "failed" and "cut off 2 times" in row.stale_reason


def test_uploads_alternating_between_two_collectors_land_exactly_once(
        served: Served, second: Served, tmp_path: Path) -> None:
    from deskscribe.datadir import DataDir
    from deskscribe.keystore import FileKeyBackend

    device = enrol(served, "contributor")
    root = tmp_path / "device"
    sid = sealed_session(root, 4000)  # a few MiB: several chunks
    data = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key")).path_of(sid).read_bytes()
    size = 1 << 20
    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    assert len(pieces) >= 3
    collectors = (served, second)
    for idx, piece in enumerate(pieces):  # each chunk to one collector, then again to both at once
        with collectors[idx % 2].client(device["token"]) as c:
            assert CollectorClient(http=c).put_chunk(sid, idx, piece)
        answers: list[bool] = []

        def again(collector: Served, i: int = idx, p: bytes = piece, out: list[bool] = answers) -> None:
            with collector.client(device["token"]) as c:
                out.append(CollectorClient(http=c).put_chunk(sid, i, p))

        threads = [threading.Thread(target=again, args=(c,)) for c in collectors]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [False, False]  # stored before: nothing stored twice
    with second.client(device["token"]) as c:
        CollectorClient(http=c).complete(sid, len(pieces))
    with served.store.engine.connect() as db:
        held = db.execute(select(chunks.c.idx, chunks.c.size).where(chunks.c.session_id == sid)
                          .order_by(chunks.c.idx)).all()
    assert [r.idx for r in held] == list(range(len(pieces)))
    with served.client(device["token"]) as c:
        back = b"".join(CollectorClient(http=c).read_chunk(sid, i) for i in range(len(pieces)))
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
