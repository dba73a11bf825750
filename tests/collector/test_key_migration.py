"""A collector from before HPKE (one X25519 key, ECIES-style boxes, dataset files sealed whole)
opened by this code: every key is wrapped again with HPKE, what was uploaded still builds,
old dataset files are re-sealed in segments, and a second run changes nothing. Both backends."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlalchemy import Engine, select

import deskscribe.collector.store as store_module
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.roles import Device
from deskscribe.collector.schema import audit, chunks, datasets, sessions, wrapped_keys
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.datadir import DataDir
from deskscribe.envelope import PREFIX, is_current, load_or_create_private, unwrap_key, wrap_key
from deskscribe.keystore import FileKeyBackend, load_or_create_key
from deskscribe.sealer import Sealer
from deskscribe.segments import is_sealed_in_segments
from tests.collector.conftest import Postgres
from tests.collector.test_datasets import typed_session
from tests.support import Served, enrol
from tests.test_envelope import old_box

STEWARD = Device("steward-1", "", "steward")
ENGINEER = Device("engineer-1", "", "ml_engineer")
OLD_DATASET = "0123456789abcdef"
OLD_FILES = {"README.md": b"# card of a dataset built before HPKE\n", "data/train-00000.parquet": b"\x00" * 3000}


def old_schema(engine: Engine) -> None:
    """The database as the last collector before HPKE left it (its newest revision, 0002)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_module.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")


class OldCollector:
    """Rows, blobs and key file written exactly as the old code wrote them."""

    def __init__(self, tmp: Path, url: str, people: int = 2) -> None:
        self.tmp, self.url, self.blobs, self.key_file = tmp, url, tmp / "blobs", tmp / "collector.key"
        legacy = X25519PrivateKey.generate()
        self.key_file.write_text(base64.b64encode(
            legacy.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())).decode() + "\n")
        self.key_file.chmod(0o600)
        public = legacy.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        engine = connect(url)
        old_schema(engine)
        self.data_keys: dict[str, bytes] = {}
        with engine.begin() as c:
            for i in range(people):
                dd = DataDir(root=tmp / f"device{i}", key_backend=FileKeyBackend(path=tmp / f"device{i}.key"))
                sid, who = typed_session(dd, f"canary{i:02d}text"), secrets.token_hex(8)  # as enrol assigns
                data = dd.path_of(sid).read_bytes()
                (self.blobs / who / sid).mkdir(parents=True)
                (self.blobs / who / sid / "000000").write_bytes(data)
                c.execute(sessions.insert().values(id=sid, contributor_id=who, chunks=1, bytes=len(data),
                                                   completed_ns=5, created_ns=4))
                c.execute(chunks.insert().values(session_id=sid, idx=0, size=len(data),
                                                 sha256=hashlib.sha256(data).hexdigest()))
                c.execute(wrapped_keys.insert().values(contributor_id=who, created_ns=3,
                                                       wrapped=old_box(dd.data_key(), public, who)))
                self.data_keys[who] = dd.data_key()
            self.dataset_key = secrets.token_bytes(32)
            whole = Sealer(contributor_key=self.dataset_key, context=f"dataset/{OLD_DATASET}")
            for name, content in OLD_FILES.items():
                path = self.blobs / "_datasets" / OLD_DATASET / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(whole.seal(content, slot=name))
            c.execute(datasets.insert().values(
                id=OLD_DATASET, fmt="hf", precision_ms=100, state="ready", created_ns=1, contributors=10,
                sessions=10, episodes=1, steps=1, bytes=1,
                key=old_box(self.dataset_key, public, f"dataset/{OLD_DATASET}")))
        engine.dispose()

    @property
    def first_key_on_file(self) -> bytes:
        with self.key_file.open() as fh:
            return fh.read().encode()

    def open(self) -> tuple[CollectorStore, DatasetBuilds]:
        """As `deskscribe serve` opens it: key file, database, then the app's recovery."""
        store = CollectorStore.open(engine=connect(self.url), blobs=self.blobs,
                                    private_key=load_or_create_private(self.key_file))
        builds = DatasetBuilds(store=store, min_people=2)
        builds.recover()
        return store, builds


@pytest.fixture(params=["sqlite", "postgresql"])
def old(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OldCollector]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'collector.db'}"
    else:
        pg: Postgres = request.getfixturevalue("postgres")
        url = pg.new_database()
    yield OldCollector(tmp_path, url)


def keys_on_file(store: CollectorStore) -> dict[str, bytes]:
    with store.engine.connect() as c:
        found = {r.contributor_id: r.wrapped for r in c.execute(select(wrapped_keys))}
        found |= {f"dataset/{r.id}": r.key for r in c.execute(select(datasets.c.id, datasets.c.key))
                  if r.key is not None}
    return found


def snapshot(store: CollectorStore) -> tuple[dict[str, bytes], dict[str, bytes], int]:
    files = {str(p.relative_to(store.blobs.root / "_datasets")): p.read_bytes()
             for p in (store.blobs.root / "_datasets").rglob("*") if p.is_file()}
    with store.engine.connect() as c:
        entries = len(c.execute(select(audit.c.seq)).all())
    return keys_on_file(store), files, entries


def test_an_old_collector_is_rewrapped_and_its_uploads_still_build(old: OldCollector, tmp_path: Path) -> None:
    store, builds = old.open()
    on_file = keys_on_file(store)
    assert len(on_file) == 3 and all(is_current(w) and w.startswith(PREFIX) for w in on_file.values())
    for who, key in old.data_keys.items():
        assert store.data_key(who) == key  # unwrapped from the HPKE wrap
        assert unwrap_key(on_file[who], private=load_or_create_private(old.key_file), contributor=who) == key
    assert "hpke-mlkem768x25519 " in old.key_file.read_text()

    for name, content in OLD_FILES.items():  # the old dataset: re-sealed in segments, same content
        assert is_sealed_in_segments(store.blobs.root / "_datasets" / OLD_DATASET / name)
        assert builds.read(ENGINEER, OLD_DATASET, name) == content

    row = builds.build(STEWARD, "hf", 100)
    assert row.state == "ready" and row.contributors == 2 and row.sessions == 2
    out = tmp_path / "pulled"
    for name in builds.files(ENGINEER, row.id):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(builds.read(ENGINEER, row.id, name))
    table = pq.read_table(sorted(out.rglob("*.parquet")))
    texts = [a["text"] for a in table.column("action").to_pylist() if a and a.get("text")]
    assert sorted(texts) == ["canary00text", "canary01text"]
    assert is_current(keys_on_file(store)[f"dataset/{row.id}"])
    store.engine.dispose()


def test_running_the_migration_again_changes_nothing(old: OldCollector) -> None:
    store, _ = old.open()
    first = snapshot(store)
    store.engine.dispose()
    key_file = old.key_file.read_text()

    again, builds = old.open()
    assert snapshot(again) == first and old.key_file.read_text() == key_file
    assert again.rewrap_keys() == 0 and builds.reseal_whole_files() == 0
    with again.engine.connect() as c:
        rewraps = [r.detail for r in c.execute(select(audit).where(audit.c.action == "key_rewrap"))]
    assert rewraps == ["3 keys wrapped again with HPKE"]
    again.engine.dispose()


def test_a_migration_cut_off_midway_leaves_every_key_readable(old: OldCollector,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = wrap_key, []

    def dies_on_the_second(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process killed between two keys
        return real(*args, **kwargs)

    monkeypatch.setattr("deskscribe.collector.store.wrap_key", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        old.open()
    private = load_or_create_private(old.key_file)  # the upgraded key file, with the old key kept
    engine = connect(old.url)
    with engine.connect() as c:
        rows = {r.contributor_id: r.wrapped for r in c.execute(select(wrapped_keys))}
    engine.dispose()
    assert not any(is_current(w) for w in rows.values())  # all or nothing
    assert {who: unwrap_key(w, private=private, contributor=who) for who, w in rows.items()} == old.data_keys

    monkeypatch.setattr("deskscribe.collector.store.wrap_key", real)
    store, builds = old.open()
    assert all(is_current(w) for w in keys_on_file(store).values())
    assert {who: store.data_key(who) for who in old.data_keys} == old.data_keys
    assert builds.read(ENGINEER, OLD_DATASET, "README.md") == OLD_FILES["README.md"]
    store.engine.dispose()


def test_a_device_from_before_hpke_may_still_deposit_an_old_box(old: OldCollector) -> None:
    """A device enrolled before the update holds the old X25519 key: its box is accepted and
    kept only as an HPKE wrap; new enrolments get the hybrid key."""
    legacy_public = X25519PrivateKey.from_private_bytes(
        base64.b64decode(old.key_file.read_text().strip())).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    store, _ = old.open()
    device, _token = store.enrol(store.create_enrol_code())
    store.deposit_key(device, old_box(b"n" * 32, legacy_public, device.contributor_id))
    held = keys_on_file(store)[device.contributor_id]
    assert is_current(held) and store.data_key(device.contributor_id) == b"n" * 32
    assert len(store.public_key) == 1216
    store.engine.dispose()


def test_a_device_holding_the_old_collector_key_fetches_the_hybrid_one(old: OldCollector, tmp_path: Path) -> None:
    """Its credential still carries the 32-byte key it was given at enrolment; depositing its
    data key asks the collector for the current key and wraps with HPKE."""
    from deskscribe.cli.contributor import _deposit_key
    from deskscribe.cli.enrolment import credential, save_credential
    from deskscribe.client import CollectorClient

    legacy_public = X25519PrivateKey.from_private_bytes(
        base64.b64decode(old.key_file.read_text().strip())).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    store, _ = old.open()
    served = Served(store).start()
    try:
        enrolled = enrol(served)
        root = tmp_path / "device-before"
        save_credential(root, {"url": served.url, **enrolled,
                               "collector_key": base64.b64encode(legacy_public).decode()})
        load_or_create_key(FileKeyBackend(path=root / "contributor.key"))  # as recording makes it
        dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
        with served.client(enrolled["token"]) as http:
            _deposit_key(CollectorClient(http=http), dd, root)
    finally:
        served.stop()
    assert store.data_key(enrolled["contributor_id"]) == dd.data_key()
    assert is_current(keys_on_file(store)[enrolled["contributor_id"]])
    cred = credential(root)
    assert cred is not None and cred.get("key_deposited") is True
    store.engine.dispose()
