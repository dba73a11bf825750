"""Dataset builds on a real Ray cluster: a head started here on 127.0.0.1 (its own temp dir and
ports) and stopped by the PIDs it started. A Ray build gives the rows of a local build, loaded
with `datasets`; no key or plaintext reaches the cluster's disk; a worker that cannot read a
session fails the build with the reason; formats that are not Parquet shards are refused."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deskscribe.collector.blobs import BlobStore, LocalBlobs, S3Blobs
from deskscribe.collector.build_engine import Exported, LocalEngine, SessionJob
from deskscribe.collector.ray_build import RayEngine, merge, on_loopback
from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release
from deskscribe.dataset.export.base import BuildSummary
from deskscribe.errors import Invalid, StoreError
from deskscribe.keystore import FileKeyBackend
from tests.dataset.scripted import click, focus, frame, marker, record, typed
from tests.support import free_port

RAY = Path(sys.executable).with_name("ray")
MOTO = Path(sys.executable).with_name("moto_server")
CLONE_NEWNET = 0x40000000
CHUNK = 16 * 1024  # small chunks, so each session is several blobs as uploads make them


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _naming(needle: str) -> list[int]:
    """Processes whose command line names ``needle`` (this cluster's own temp dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _setns(fd: int) -> None:
    """Moves this thread (and the threads it starts later) into the network namespace ``fd``."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


class RayHead:
    """``ray start --head --block`` in its own session and its own network namespace, which has
    only a loopback interface: Ray's servers listen on every interface there is, and there is
    only 127.0.0.1. Every process it started is ended by PID."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="dsray-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RayHead:
        ports = {flag: free_port() for flag in (
            "--node-manager-port", "--object-manager-port",
            "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port", "--metrics-export-port",
            "--runtime-env-agent-port")}
        low = free_port()
        args = [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                f"--port={self.port}", f"--temp-dir={self.temp}", "--include-dashboard=false",
                "--disable-usage-stats", "--object-store-memory=300000000",
                f"--min-worker-port={low}", f"--max-worker-port={low + 50}",
                *(f"{flag}={port}" for flag, port in ports.items())]
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        with open(self.temp / "head.log", "wb") as log:
            self.proc = subprocess.Popen(["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                                          *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + 120
        status = ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net", str(RAY), "status", f"--address={self.address}"]
        while "CPU" not in subprocess.run(status, env=env, capture_output=True, text=True, timeout=60).stdout:
            assert self.proc.poll() is None, (self.temp / "head.log").read_text()
            assert time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(1)
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @contextmanager
    def joined(self) -> Iterator[None]:
        """This thread, and the threads it starts meanwhile (a Ray driver's), on the head's
        network; back on its own afterwards."""
        assert self.proc is not None
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        there = os.open(f"/proc/{self.proc.pid}/ns/net", os.O_RDONLY)
        try:
            _setns(there)
            yield
        finally:
            _setns(home)
            os.close(home)
            os.close(there)

    def stop(self) -> None:
        if self.proc is None:
            return
        ours = {*_descendants(self.proc.pid), *_naming(str(self.temp))}
        self.proc.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pid in ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)

    def files_holding(self, needles: list[bytes]) -> list[str]:
        """Files under the cluster's temp dir (logs, spilled objects, sessions) holding any needle."""
        hits = []
        for path in self.temp.rglob("*"):
            try:
                if path.is_file() and not path.is_socket():
                    data = path.read_bytes()
                    hits += [f"{path}: {n[:12]!r}" for n in needles if n in data]
            except OSError:
                continue
        return hits


@pytest.fixture(scope="module")
def head() -> Iterator[RayHead]:
    h = RayHead()
    try:
        yield h.start()
    finally:
        h.stop()


@pytest.fixture(scope="module")
def engine(head: RayHead) -> Iterator[RayEngine]:
    with head.joined():
        e = RayEngine(address=head.address)
        try:
            yield e
        finally:
            e.close()


@dataclass
class Uploaded:
    jobs: list[SessionJob]
    blobs: Any
    keys: list[bytes]
    texts: list[str]


def uploaded(tmp: Path, people: int, sessions_each: int = 2, blobs: BlobStore | None = None) -> Uploaded:
    """Recorded sessions of ``people`` contributors, split into chunks in a blob store as the
    collector holds them, each a job with its contributor's key."""
    blobs = blobs or LocalBlobs(root=tmp / "blobs")
    jobs, keys, texts = [], [], []
    blobs.ensure()
    for i in range(people):
        cid = secrets.token_hex(8)
        dd = DataDir(root=tmp / f"person{i}", key_backend=FileKeyBackend(path=tmp / f"person{i}.key"))
        for n in range(sessions_each):
            text = f"canary{i:02d}{n}typed"
            sid = record(dd, [*marker(0, "task_start", instruction=f"note {n}"), *focus(10, "XTerm", "notes"),
                              *frame(50), *click(100, 100 + 40 * n, 250), *frame(300), *typed(400, text),
                              *frame(5000), *click(5100, 700, 100 + 10 * i), *marker(5500, "task_end")],
                         contributor=cid)
            data = dd.path_of(sid).read_bytes()
            parts = [data[k:k + CHUNK] for k in range(0, len(data), CHUNK)]
            for idx, part in enumerate(parts):
                blobs.put(f"{cid}/{sid}/{idx:06d}", part)
            jobs.append(SessionJob(contributor=cid, session_id=sid, chunks=len(parts), key=dd.data_key()))
            texts.append(text)
        keys.append(dd.data_key())
    return Uploaded(jobs, blobs, keys, texts)


def rows(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every split's rows as `datasets` loads the build (its card names the shards), by episode
    and step, screenshots as their PNG bytes."""
    from datasets import Image, load_dataset

    loaded = load_dataset(str(root))
    out = {}
    for split, ds in loaded.items():
        plain = ds.cast_column("image", Image(decode=False))
        out[split] = sorted(plain.to_list(), key=lambda r: (r["episode_id"], r["step"]))
    return out


def same_summary(a: Exported, b: Exported) -> None:
    assert (a.included, a.sessions) == (b.included, b.sessions)
    sa, sb = a.summary, b.summary
    for name in ("fmt", "episodes", "steps", "actions", "splits", "contributors", "policy_versions",
                 "recorder_versions", "reduce_version", "precision_ms"):
        assert getattr(sa, name) == getattr(sb, name), name
    assert sa.tally.result() == sb.tally.result()


def test_a_ray_build_gives_the_rows_of_a_local_build_and_leaves_no_key_or_plaintext_on_disk(
        head: RayHead, engine: RayEngine, tmp_path: Path) -> None:
    up = uploaded(tmp_path, 12)
    wrong = SessionJob(contributor="0123abcd", session_id=up.jobs[0].session_id, chunks=up.jobs[0].chunks,
                       key=secrets.token_bytes(32))  # a key that does not open the session: left out by both
    for name, copy in zip(up.jobs[0].blob_names(), wrong.blob_names(), strict=True):
        up.blobs.put(copy, up.blobs.get(name))
    jobs = [*up.jobs, wrong]
    release = Release(key=secrets.token_bytes(32), precision_ms=100)

    scratch = set(Path(tempfile.gettempdir()).glob("deskscribe-ray-*"))
    local = LocalEngine(scratch=tmp_path).export(jobs=jobs, blobs=up.blobs, release=release, fmt="hf",
                                                 out=tmp_path / "local")
    ray = engine.export(jobs=jobs, blobs=up.blobs, release=release, fmt="hf", out=tmp_path / "ray")

    assert ray.sessions == 24 and len(ray.included) == 12
    same_summary(local, ray)
    by_split = rows(tmp_path / "ray")
    assert by_split == rows(tmp_path / "local")
    assert sum(len(r) for r in by_split.values()) == ray.summary.steps > 0
    typed_texts = sorted(r["action"]["text"] for rs in by_split.values() for r in rs if r["action"]["text"])
    assert typed_texts == sorted(up.texts)
    assert any(r["image"]["bytes"] for rs in by_split.values() for r in rs)
    assert (tmp_path / "ray" / "README.md").read_text() == (tmp_path / "local" / "README.md").read_text()
    assert ray.summary.bytes == sum(p.stat().st_size for p in (tmp_path / "ray").glob("data/*.parquet"))

    def others(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.parent.name != "data"}

    assert others(tmp_path / "ray") == others(tmp_path / "local") == {"README.md"}
    assert sorted(tmp_path.glob("ray/data/*.parquet")) and {p.name.split("-")[0] for p in tmp_path.glob(
        "ray/data/*.parquet")} == {p.name.split("-")[0] for p in tmp_path.glob("local/data/*.parquet")}

    needles = [*up.keys, *(k.hex().encode() for k in up.keys), *(t.encode() for t in up.texts)]
    assert head.files_holding([b"MapBatches(build_part)"])  # the scan reads the logs of this build
    assert head.files_holding(needles) == []
    assert set(Path(tempfile.gettempdir()).glob("deskscribe-ray-*")) <= scratch  # the workers cleaned up


@pytest.fixture
def s3(head: RayHead, engine: RayEngine) -> Iterator[S3Blobs]:
    """A moto S3 server on the head's loopback, where the workers reach it."""
    assert head.proc is not None
    port = free_port()
    fresh_fsspec_io()  # its I/O thread must start on the head's network, where this moto is
    proc = subprocess.Popen(["nsenter", f"--net=/proc/{head.proc.pid}/ns/net", str(MOTO), "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()  # this thread is on that network
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "moto did not start"
                time.sleep(0.2)
        yield S3Blobs(url="s3://builds/blobs", options={"endpoint_url": f"http://127.0.0.1:{port}",
                                                        "key": "test", "secret": "test"})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        fresh_fsspec_io()  # and S3 used later in this process goes out on the caller's network


def fresh_fsspec_io() -> None:
    """fsspec runs every S3 request on one I/O thread of its own, on the network namespace of
    the thread that first needed it: stop it and forget cached filesystems bound to it."""
    import fsspec.asyn
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    old = fsspec.asyn.loop[0]
    if old is not None:
        old.call_soon_threadsafe(old.stop)
    fsspec.asyn.reset_lock()


def test_workers_read_the_sessions_from_an_s3_store_themselves(engine: RayEngine, s3: S3Blobs,
                                                               tmp_path: Path) -> None:
    up = uploaded(tmp_path, 10, sessions_each=1, blobs=s3)
    release = Release(key=secrets.token_bytes(32))
    ray = engine.export(jobs=up.jobs, blobs=s3, release=release, fmt="hf", out=tmp_path / "ray")
    local = LocalEngine(scratch=tmp_path).export(jobs=up.jobs, blobs=s3, release=release, fmt="hf",
                                                 out=tmp_path / "local")
    assert ray.sessions == 10 and len(ray.included) == 10
    same_summary(local, ray)
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")


def test_a_session_a_worker_cannot_read_fails_the_build_with_the_reason(
        engine: RayEngine, tmp_path: Path) -> None:
    up = uploaded(tmp_path, 3, sessions_each=1)
    broken = up.jobs[1]
    assert broken.chunks > 1
    (up.blobs.root / broken.contributor / broken.session_id / "000001").unlink()  # lost from the store
    with pytest.raises(StoreError) as failed:
        engine.export(jobs=up.jobs, blobs=up.blobs, release=Release(key=b"k" * 32), fmt="hf",
                      out=tmp_path / "out")
    message = str(failed.value)
    assert message.startswith("the Ray build failed: session ") and broken.session_id in message
    assert f"{broken.session_id}/000001 is missing" in message and "\n" not in message


@dataclass(frozen=True)
class DyingBlobs:
    """A store whose reads kill the worker process, as the kernel's OOM killer would."""

    def get(self, name: str) -> bytes:
        os._exit(1)


def test_a_worker_that_keeps_dying_fails_the_build_instead_of_retrying_forever(
        engine: RayEngine, tmp_path: Path) -> None:
    job = SessionJob(contributor="ab", session_id="cd", chunks=1, key=b"k" * 32)
    before = set(Path(tempfile.gettempdir()).glob("deskscribe-ray-*"))
    try:
        with pytest.raises(StoreError) as failed:
            engine.export(jobs=[job], blobs=DyingBlobs(), release=Release(key=b"k" * 32),  # type: ignore[arg-type]
                          fmt="hf", out=tmp_path / "out")
    finally:  # a killed worker leaves its (empty) scratch directory behind
        for left in set(Path(tempfile.gettempdir()).glob("deskscribe-ray-*")) - before:
            shutil.rmtree(left, ignore_errors=True)
    message = str(failed.value)
    assert message.startswith("the Ray build failed: ") and "died" in message and "\n" not in message


def test_an_empty_build_still_writes_the_card(engine: RayEngine, tmp_path: Path) -> None:
    done = engine.export(jobs=[], blobs=LocalBlobs(root=tmp_path), release=Release(key=b"k" * 32), fmt="hf",
                         out=tmp_path / "out")
    assert (done.summary.episodes, done.sessions) == (0, 0)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["README.md"]


def test_formats_that_are_not_parquet_shards_are_refused_before_the_cluster_is_asked(tmp_path: Path) -> None:
    nowhere = RayEngine(address=f"127.0.0.1:{free_port()}")  # nothing listens: never reached
    for fmt in ("jsonl", "chat", "agentnet"):
        with pytest.raises(Invalid, match=f"builds hf only; build {fmt} with the local engine"):
            nowhere.export(jobs=[], blobs=LocalBlobs(root=tmp_path), release=Release(key=b"k" * 32), fmt=fmt,
                           out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(Invalid, match="at least one worker"):
        RayEngine(address="auto", workers=0)


def test_without_ray_installed_the_engine_says_what_to_install(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['ray'] = None\n"  # the import fails as when the package is absent
        "from pathlib import Path\n"
        "from deskscribe.collector.blobs import BlobStore, LocalBlobs, S3Blobs\n"
        "from deskscribe.collector.build_engine import SessionJob\n"
        "from deskscribe.collector.ray_build import RayEngine\n"
        "from deskscribe.dataset.build import Release\n"
        "from deskscribe.errors import StoreError\n"
        "job = SessionJob(contributor='ab', session_id='cd', chunks=1, key=b'k' * 32)\n"
        "try:\n"
        f"    RayEngine(address='auto').export(jobs=[job], blobs=LocalBlobs(root=Path({str(tmp_path)!r})),\n"
        f"        release=Release(key=b'k' * 32), fmt='hf', out=Path({str(tmp_path / 'out')!r}))\n"
        "except StoreError as exc:\n"
        "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "the ray engine needs Ray: pip install 'deskscribe[ray]'"


@pytest.mark.parametrize(("address", "loopback"), [
    ("auto", True), ("127.0.0.1:6379", True), ("localhost:6379", True), ("[::1]:6379", True),
    ("ray://127.0.0.1:10001", True), ("10.0.0.5:6379", False), ("head.internal:6379", False)])
def test_loopback_addresses_pin_ray_to_127_0_0_1(address: str, loopback: bool) -> None:
    assert on_loopback(address) is loopback


def test_merged_summaries_add_up_and_keep_the_build_settings() -> None:
    a, b = BuildSummary(fmt="hf", precision_ms=250, episodes=2, steps=5), BuildSummary(fmt="hf", precision_ms=250,
                                                                                         episodes=1, steps=3)
    a.actions.update({"click": 2}), b.actions.update({"click": 1, "type": 1})
    a.policy_versions.add("p1"), b.policy_versions.add("p2")
    a.tally.action_steps, b.tally.action_steps = 4, 2
    merge(a, b)
    assert (a.episodes, a.steps, a.precision_ms, a.fmt) == (3, 8, 250, "hf")
    assert a.actions == {"click": 3, "type": 1} and a.policy_versions == {"p1", "p2"}
    assert a.tally.action_steps == 6


def test_a_steward_builds_on_the_cluster_from_the_command_line(head: RayHead, tmp_path: Path) -> None:
    """`admin dataset build --engine ray --ray-address` over a collector's uploads: the dataset
    is recorded, sealed and readable as a local build's would be."""
    from deskscribe.collector.datasets import DatasetBuilds
    from deskscribe.collector.store import CollectorStore, connect
    from deskscribe.envelope import load_or_create_private
    from tests.collector.test_datasets import people
    from tests.support import Served, enrol

    db, blobs, key = f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "blobs", tmp_path / "collector.key"
    store = CollectorStore.open(engine=connect(db), blobs=blobs, private_key=load_or_create_private(key))
    served = Served(store).start()
    try:
        for p in people(served, tmp_path, 10):
            p.deposit_key(served)
        engineer = store.authenticate(enrol(served, "ml_engineer")["token"])
    finally:
        served.stop()
    assert head.proc is not None
    out = subprocess.run(["nsenter", f"--net=/proc/{head.proc.pid}/ns/net", sys.executable, "-m", "deskscribe",
                          "admin", "dataset", "build", "--engine", "ray", "--ray-address", head.address,
                          "--db", db, "--blobs", str(blobs), "--key-file", str(key), "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "from 10 contributors" in out.stdout, out.stderr
    [row] = DatasetBuilds(store=store).listing(engineer)
    assert row.state == "ready" and row.contributors == 10
    texts = [n for n in DatasetBuilds(store=store).files(engineer, row.id) if n.endswith(".parquet")]
    assert texts and b"canary03text" in b"".join(DatasetBuilds(store=store).read(engineer, row.id, n)
                                                 for n in texts)
