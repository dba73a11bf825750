"""Dataset files travel sealed in segments: sealed disk to disk, served streaming by a real
collector process, and pulled by the real command line, which decrypts segment by segment. A
file damaged at rest or cut short is refused in one line and nothing is left under its name;
a 2 GB file goes through with every process under 200 MiB of peak memory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskscribe.client import CollectorClient
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.schema import datasets
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import load_or_create_private
from deskscribe.errors import CollectorRefused, CollectorUnreachable
from deskscribe.segments import HEADER_BYTES, SEGMENT_BYTES, TAG_BYTES
from tests.support import Collector, Served, cli, enrol, one_line_error

DS = "feedc0de"
MIB = 1 << 20

# Seals one generated file of SIZE bytes into dataset DS of the collector in TMP, as a build
# does, and prints its SHA-256, an ml_engineer enrolment code and this process's peak RSS.
SEAL = """
import hashlib, json, sys, time
from pathlib import Path
def vm_hwm_mib():  # this process's own peak; ru_maxrss would carry pytest's over from before exec
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.schema import datasets
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import load_or_create_private

tmp, size, ds = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
store = CollectorStore.open(engine=connect(f"sqlite:///{tmp / 'server.db'}"), blobs=tmp / "blobs",
                            private_key=load_or_create_private(tmp / "collector.key"))
staging = tmp / "staging"
(staging / "data").mkdir(parents=True)
digest, block = hashlib.sha256(), bytes(range(256)) * 4096
with open(staging / "data" / "big.bin", "wb") as fh:
    for i in range(0, size, len(block)):
        piece = (i.to_bytes(8, "big") + block)[: min(len(block), size - i)]
        digest.update(piece)
        fh.write(piece)
wrapped = DatasetBuilds(store=store).seal_files(ds, staging)
(staging / "data" / "big.bin").unlink()
with store.engine.begin() as c:
    c.execute(datasets.insert().values(id=ds, fmt="hf", precision_ms=100, state="ready", created_ns=time.time_ns(),
                                       contributors=10, sessions=10, episodes=1, steps=1, bytes=size, key=wrapped))
print(json.dumps({"sha256": digest.hexdigest(), "code": store.create_enrol_code("ml_engineer"),
                  "peak_mib": vm_hwm_mib()}))
"""

# Runs the command line given and prints its peak RSS (the largest child this small process waited
# for: a child's ru_maxrss starts from its parent's size at the fork, so the parent is not pytest).
PEAK_OF = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def cli_env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(tmp / "home"), "XDG_CONFIG_HOME": str(tmp / "home" / ".config")}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_a_2_gb_dataset_file_is_sealed_served_and_pulled_in_under_200_mib_each(tmp_path: Path) -> None:
    size = 2 * 1024 * MIB
    env = cli_env(tmp_path)
    sealed = subprocess.run([sys.executable, "-c", SEAL, str(tmp_path), str(size), DS], capture_output=True,
                            text=True, env=env, timeout=1800)
    assert sealed.returncode == 0, sealed.stderr
    made = json.loads(sealed.stdout)
    stored = tmp_path / "blobs" / "_datasets" / DS / "data" / "big.bin"
    assert stored.stat().st_size == HEADER_BYTES + size + (size // SEGMENT_BYTES) * TAG_BYTES

    server = Collector(tmp_path, env).start()
    try:
        device = tmp_path / "engineer"
        cli("enrol", server.url, made["code"], "--data-dir", str(device), env=env)
        out = tmp_path / "pulled"
        pulled = subprocess.run([sys.executable, "-c", PEAK_OF, sys.executable, "-m", "deskscribe", "datasets",
                                 "pull", DS, "--out", str(out), "--data-dir", str(device)],
                                capture_output=True, text=True, env=env, timeout=1800)
        assert server.proc is not None
        served_peak = vm_hwm_mib(server.proc.pid)
    finally:
        server.kill()
    code, pull_peak = pulled.stdout.split()
    assert code == "0", pulled.stderr
    assert (out / "data" / "big.bin").stat().st_size == size
    assert sha256_of(out / "data" / "big.bin") == made["sha256"]
    peaks = {"seal": made["peak_mib"], "serve": served_peak, "pull": float(pull_peak)}
    print(f"peak RSS (MiB) for a {size // MIB} MiB file: {peaks}")
    assert all(peak < 200 for peak in peaks.values()), peaks


# -- a damaged or cut-off file, over HTTP from an in-process collector ---------------------

@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Served, bytes]]:
    """A collector holding dataset DS with one file of 2.5 segments, and that file's content."""
    engine = connect(f"sqlite:///{tmp_path / 'collector.db'}")
    store = CollectorStore.open(engine=engine, blobs=tmp_path / "blobs",
                                private_key=load_or_create_private(tmp_path / "collector.key"))
    content = os.urandom(SEGMENT_BYTES * 5 // 2)
    (tmp_path / "staged" / "data").mkdir(parents=True)
    (tmp_path / "staged" / "data" / "big.bin").write_bytes(content)
    wrapped = DatasetBuilds(store=store).seal_files(DS, tmp_path / "staged")
    with store.engine.begin() as c:
        c.execute(datasets.insert().values(id=DS, fmt="hf", precision_ms=100, state="ready", created_ns=1,
                                           contributors=10, sessions=10, episodes=1, steps=1, bytes=1, key=wrapped))
    served = Served(store).start()
    yield served, content
    served.stop()
    engine.dispose()


def pull(served: Served, tmp: Path, out: Path) -> subprocess.CompletedProcess[str]:
    device, env = tmp / "engineer", cli_env(tmp)
    if not device.exists():
        code = served.store.create_enrol_code("ml_engineer")
        cli("enrol", served.url, code, "--data-dir", str(device), env=env)
    return cli("datasets", "pull", DS, "--out", str(out), "--data-dir", str(device), env=env, check=False)


def test_a_pulled_file_is_decrypted_and_identical(small: tuple[Served, bytes], tmp_path: Path) -> None:
    served, content = small
    done = pull(served, tmp_path, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "data" / "big.bin").read_bytes() == content
    assert sorted(p.name for p in (tmp_path / "out" / "data").iterdir()) == ["big.bin"]


@pytest.mark.parametrize("damage", ["flipped bit", "cut at a segment boundary", "cut mid-segment", "appended"])
def test_a_damaged_file_is_refused_in_one_line_and_nothing_is_saved(small: tuple[Served, bytes], tmp_path: Path,
                                                                     damage: str) -> None:
    served, _ = small
    stored = served.store.blobs.root / "_datasets" / DS / "data" / "big.bin"
    sealed = stored.read_bytes()
    boundary = HEADER_BYTES + 2 * (SEGMENT_BYTES + TAG_BYTES)
    stored.write_bytes({"flipped bit": sealed[:boundary - 5] + bytes([sealed[boundary - 5] ^ 1]) + sealed[boundary - 4:],
                        "cut at a segment boundary": sealed[:boundary],
                        "cut mid-segment": sealed[:boundary - 1000],
                        "appended": sealed + b"\x00" * 32}[damage])
    done = pull(served, tmp_path, tmp_path / "out")
    one_line_error(done, "did not arrive intact")
    assert "nothing was saved" in done.stderr
    left = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert left == []


def test_a_download_key_that_is_not_a_hybrid_public_key_is_refused(small: tuple[Served, bytes],
                                                                   tmp_path: Path) -> None:
    served, content = small
    token = enrol(served, "ml_engineer")["token"]
    with served.client(token) as c:
        bad = c.get(f"/v1/datasets/{DS}/files/data/big.bin", headers={"X-Deskscribe-Recipient": "AAAA"})
        assert bad.status_code == 400 and "ML-KEM-768 + X25519" in bad.json()["detail"]
        junk = c.get(f"/v1/datasets/{DS}/files/data/big.bin", headers={"X-Deskscribe-Recipient": "no!"})
        assert junk.status_code == 400 and "base64" in junk.json()["detail"]
        plain = c.get(f"/v1/datasets/{DS}/files/data/big.bin")  # clients from before: decrypted here
        assert plain.status_code == 200 and plain.content == content


def test_a_refused_download_says_why_and_saves_nothing(small: tuple[Served, bytes], tmp_path: Path) -> None:
    served, _ = small
    token = enrol(served, "ml_engineer")["token"]
    with CollectorClient(base_url=served.url, token=token, retries=0) as client:
        with pytest.raises(CollectorRefused, match="404 dataset feedc0de has no file nope") as refused:
            client.dataset_file(DS, "nope", tmp_path / "nope")
        assert refused.value.status == 404 and list(tmp_path.glob("*nope*")) == []
        assert client.dataset_file(DS, "data/big.bin", tmp_path / "big.bin") == SEGMENT_BYTES * 5 // 2
    served.stop()
    with (CollectorClient(base_url=served.url, token=token, retries=1, sleep=lambda _: None) as client,
          pytest.raises(CollectorUnreachable, match="cannot reach the collector")):
        client.dataset_file(DS, "data/big.bin", tmp_path / "again.bin")
    assert not (tmp_path / "again.bin").exists() and (tmp_path / "big.bin").stat().st_size > 0
