"""The collector with its blobs in an S3 bucket: moto's standalone S3 server on loopback, started
and stopped here, reached over HTTP by s3fs exactly as a real bucket would be."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deskscribe.client import CollectorClient
from deskscribe.collector.blobs import BlobStore, LocalBlobs, S3Blobs, open_blobs
from deskscribe.collector.retention import DAY_NS, sweep
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key
from deskscribe.errors import Invalid, StoreError
from tests.collector.test_datasets import build, people, pull, typed_texts
from tests.support import Served, enrol, free_port, wait_healthy

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "deskscribe-test", "AWS_SECRET_ACCESS_KEY": "deskscribe-test",
               "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """The endpoint of a moto S3 server of this module's own."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)  # botocore reads credentials from the environment, as in production
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, "moto did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def bucket(s3: str) -> S3Blobs:
    store = open_blobs(f"s3://b{secrets.token_hex(6)}/deskscribe", options={"endpoint_url": s3})
    assert isinstance(store, S3Blobs)
    store.ensure()
    return store


def everything(blobs: S3Blobs) -> dict[str, bytes]:
    return {name: blobs.get(name) for name in blobs.names("")} if blobs.names("") else {}


@pytest.fixture(params=["directory", "bucket"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "directory":
        store: BlobStore = LocalBlobs(root=tmp_path / "blobs")
        store.ensure()
        return store
    return bucket(request.getfixturevalue("s3"))


def test_both_blob_stores_keep_the_same_contract(blobs: BlobStore, tmp_path: Path) -> None:
    blobs.put("c1/s1/000000", b"first")
    blobs.put("c1/s1/000000", b"again")  # replaced whole
    blobs.put("c1/s1/000001", b"second")
    blobs.put("c2/s9/000000", b"other")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))  # above s3fs's multipart threshold
    want = big.read_bytes()
    blobs.put_file("_datasets/d1/data/big.bin", big)
    assert not big.exists()  # consumed
    assert blobs.get("c1/s1/000000") == b"again" and blobs.size("_datasets/d1/data/big.bin") == len(want)
    with blobs.reading("_datasets/d1/data/big.bin") as fh:
        assert fh.read(10) == want[:10] and fh.read() == want[10:]
    assert blobs.names("c1") == ["s1/000000", "s1/000001"]
    blobs.move("_datasets/d1", "_datasets/d2")
    assert blobs.names("_datasets/d1") == [] and blobs.names("_datasets/d2") == ["data/big.bin"]
    blobs.delete("c1/s1")
    blobs.delete("c1/never")  # deleting what is not there is not an error
    assert blobs.names("c1") == [] and blobs.names("c2") == ["s9/000000"]
    with pytest.raises(StoreError, match="missing"):
        blobs.get("c1/s1/000000")
    for bad in ("../escape", "/abs", "a//b", "a/./b", ""):
        with pytest.raises(Invalid):
            blobs.put(bad, b"x")


def test_a_blob_store_url_that_is_neither_a_directory_nor_a_bucket_is_refused() -> None:
    for bad in ("s3://", "s3:///x", "gs://bucket/x"):
        with pytest.raises(Invalid):
            open_blobs(bad)


def s3_store(s3: str, tmp: Path, **kw: object) -> CollectorStore:
    return CollectorStore.open(engine=connect(f"sqlite:///{tmp / 'collector.db'}"), blobs=bucket(s3),
                               private_key=new_collector_key(), **kw)  # type: ignore[arg-type]


def test_a_collector_on_a_bucket_builds_serves_and_erases(s3: str, tmp_path: Path) -> None:
    store = s3_store(s3, tmp_path)
    blobs = store.blobs
    assert isinstance(blobs, S3Blobs)
    served = Served(store).start()
    try:
        steward, engineer = enrol(served, "steward")["token"], enrol(served, "ml_engineer")["token"]
        crowd = people(served, tmp_path, 10)
        for p in crowd:
            p.deposit_key(served)
        first = crowd[0]
        status, ds = build(served, steward)
        assert status == 202 and ds["state"] == "ready" and ds["contributors"] == 10
        names = pull(served, engineer, str(ds["id"]), tmp_path / "pulled")
        assert "README.md" in names and blobs.names(f"_datasets/{ds['id']}") == sorted(names)
        assert sorted(typed_texts(tmp_path / "pulled")) == sorted(f"canary{i:02d}text" for i in range(10))
        stored = b"".join(everything(blobs).values())
        assert b"canary03text" not in stored  # sessions and the dataset are ciphertext in the bucket

        who = first.enrolled["contributor_id"]
        assert blobs.names(who)
        with first.client(served) as c:
            assert c.delete("/v1/me").json() == {"erased_sessions": 1}
        assert blobs.names(who) == []  # her objects are deleted, not hidden
        assert blobs.names(f"_datasets/{ds['id']}") == []  # and the dataset built with her
        assert store.audit_verify() is None
    finally:
        served.stop()


def test_retention_deletes_expired_objects_from_the_bucket(s3: str, tmp_path: Path) -> None:
    now = [1_000 * DAY_NS]
    store = s3_store(s3, tmp_path, wall_ns=lambda: now[0])
    dev, _ = store.enrol(store.create_enrol_code())
    for sid in ("old", "fresh"):
        store.put_chunk(dev, sid, 0, sid.encode(), hashlib.sha256(sid.encode()).hexdigest())
        store.complete(dev, sid, 1)
        now[0] += 60 * DAY_NS
    now[0] += 1 * DAY_NS  # the first is past 90 days, the second is not
    assert sweep(store) == {"sessions": 1, "datasets": 0}
    assert store.blobs.names(dev.contributor_id) == ["fresh/000000"]


def serve(tmp: Path, s3: str, where: str, port: int) -> subprocess.Popen[str]:
    config = tmp / "config.toml"
    config.write_text(f'[recorder]\nkey_store = "file"\n[collector]\ns3_endpoint_url = "{s3}"\n')
    env = {**os.environ, **CREDENTIALS, "DESKSCRIBE_CONFIG": str(config)}
    proc = subprocess.Popen([sys.executable, "-m", "deskscribe", "serve", "--db", f"sqlite:///{tmp / 'c.db'}",
                             "--blobs", where, "--key-file", str(tmp / "collector.key"), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def test_a_collector_killed_mid_upload_leaves_no_partial_object(s3: str, tmp_path: Path) -> None:
    """kill -9 while chunks stream into the bucket: every object there is a whole chunk that the
    database knows, and the upload resumes to exactly one copy of each after a restart."""
    blobs, port = bucket(s3), free_port()
    chunks = [os.urandom(4 * 1024 * 1024) for _ in range(12)]
    proc = serve(tmp_path, s3, blobs.url, port)
    url = f"http://127.0.0.1:{port}"
    code = subprocess.run([sys.executable, "-m", "deskscribe", "admin", "enrol-code", "--db",
                           f"sqlite:///{tmp_path / 'c.db'}", "--blobs", blobs.url, "--key-file",
                           str(tmp_path / "collector.key")], env={**os.environ, **CREDENTIALS,
                           "DESKSCRIBE_CONFIG": str(tmp_path / "config.toml")},
                          capture_output=True, text=True, check=True).stdout.strip().split()[-1]
    token = CollectorClient(base_url=url).enrol(code)["token"]
    sid, sent = "s-" + secrets.token_hex(4), threading.Event()

    def upload() -> None:
        with CollectorClient(base_url=url, token=token) as client:
            for i, data in enumerate(chunks):
                try:
                    client.put_chunk(sid, i, data)
                except Exception:
                    return  # the collector is gone
                if i == 3:
                    sent.set()

    uploader = threading.Thread(target=upload)
    uploader.start()
    assert sent.wait(60), "the first chunks did not arrive"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    uploader.join(60)

    stored = {name: blobs.get(name) for name in blobs.names("")}
    assert len(stored) >= 4
    for name, data in stored.items():  # whole chunks only, each the one the device sent
        idx = int(name.rsplit("/", 1)[1])
        assert data == chunks[idx], f"{name} is not the chunk that was sent"

    proc = serve(tmp_path, s3, blobs.url, port)
    try:
        with CollectorClient(base_url=url, token=token) as client:
            held = set(client.chunks_held(sid))
            assert held == {int(n.rsplit("/", 1)[1]) for n in stored}  # the database and the bucket agree
            for i, data in enumerate(chunks):  # the device resends all: what was held is not stored again
                assert client.put_chunk(sid, i, data) is (i not in held)
            client.complete(sid, len(chunks))
            assert [client.read_chunk(sid, i) for i in range(len(chunks))] == chunks
        names = [n for n in blobs.names("") if f"/{sid}/" in f"/{n}"]
        assert len(names) == len(chunks)  # exactly one object per chunk
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
