"""Datasets built on the collector from uploaded sessions, for the ML-engineer role.

A build reassembles each session from its chunks, unwraps its contributor's data key in memory
and runs the same pipeline as `deskscribe build`; nothing is decrypted to disk. A dataset spans
people, so it is refused below ``min_people`` contributors. Erasure turns every dataset built
from the erased contributor stale and deletes its files; a rebuild leaves them out.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from deskscribe.collector.consent import ConsentRecords
from deskscribe.collector.models import Dataset
from deskscribe.collector.roles import Device, require
from deskscribe.collector.schema import dataset_members, datasets, sessions, wrapped_keys
from deskscribe.collector.store import MIN_PEOPLE, CollectorStore
from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export import FORMATS, open_exporter
from deskscribe.errors import Conflict, DataKeyError, Invalid, NotFound, StoreError
from deskscribe.keystore import MemoryKeyBackend
from deskscribe.sealer import Sealer
from deskscribe.store import SessionReader


class DatasetBuilds:
    def __init__(self, *, store: CollectorStore, min_people: int = MIN_PEOPLE) -> None:
        self.store = store
        self.min_people = min_people

    def build(self, device: Device, fmt: str, precision_ms: int, *, rebuild_of: str | None = None
              ) -> Dataset:
        """Build now and return the finished dataset (the steward's shell)."""
        row = self.start(device, fmt, precision_ms, rebuild_of=rebuild_of)
        self.run(row.id, device.id)
        return Dataset.model_validate(self._row(row.id))

    def start(self, device: Device, fmt: str, precision_ms: int, *, rebuild_of: str | None = None
              ) -> Dataset:
        """Check the request and record a dataset in state ``building``; :meth:`run` builds it."""
        require(device, "steward")
        if fmt not in FORMATS:
            raise Invalid(f"format must be one of {', '.join(FORMATS)}")
        if precision_ms < 1:
            raise Invalid("precision_ms must be at least 1")
        readable = len(self._readable_sessions())
        if readable < self.min_people:
            raise Conflict(f"a dataset spans people, so it needs at least {self.min_people} contributors;"
                           f" {readable} have readable sessions now")
        row = Dataset(id=secrets.token_hex(8), fmt=fmt, precision_ms=precision_ms, state="building",
                      created_ns=self.store.wall_ns(), contributors=0, sessions=0, episodes=0, steps=0,
                      bytes=0, rebuild_of=rebuild_of, stale_reason=None)
        with self.store.engine.begin() as c:
            c.execute(datasets.insert().values(**row.model_dump()))
        return row

    def run(self, dataset_id: str, actor: str) -> None:
        """Build a dataset recorded by :meth:`start`; a failure is recorded on the dataset."""
        row = self._row(dataset_id)
        try:
            done = self._build(dataset_id, row["fmt"], row["precision_ms"])
        except Exception as exc:  # recorded for the steward; the collector keeps serving
            self._set(dataset_id, state="failed", stale_reason=f"build failed: {exc}"[:200])
            raise
        with self.store.engine.begin() as c:
            keyed = {r.contributor_id for r in c.execute(select(wrapped_keys.c.contributor_id))}
            included = done.pop("included")
            erased = included - keyed  # erased while the build ran: this build is never served
            for who in sorted(included & keyed):
                c.execute(dataset_members.insert().values(dataset_id=dataset_id, contributor_id=who))
            why = "a contributor erased their data during the build; rebuild it" if erased else None
            c.execute(datasets.update().where(datasets.c.id == dataset_id)
                      .values(**done, state="stale" if erased else "ready", stale_reason=why))
            self.store.audit(c, actor, "dataset_build", dataset_id, f"{done['contributors']} contributors"
                             + (f", rebuild of {row['rebuild_of']}" if row["rebuild_of"] else ""))
        if erased:
            self._set(dataset_id, key=None)
            shutil.rmtree(self.store.datasets_dir / dataset_id, ignore_errors=True)

    def recover(self) -> None:
        """Builds cut off by a restart are marked failed (their files are incomplete)."""
        with self.store.engine.begin() as c:
            c.execute(datasets.update().where(datasets.c.state == "building")
                      .values(state="failed", stale_reason="the collector stopped during the build"))

    def _build(self, dataset_id: str, fmt: str, precision_ms: int) -> dict[str, Any]:
        readable = self._readable_sessions()
        with tempfile.TemporaryDirectory(dir=self.store.blobs) as work, _staging() as staging:
            opener, included = self._assemble(Path(work), readable)
            summary = build_dataset(open_session=opener, session_ids=sorted(opener.sources),
                                    exporter=open_exporter(fmt, out=staging / "out"),
                                    release=Release(key=secrets.token_bytes(32), precision_ms=precision_ms),
                                    fmt=fmt)
            wrapped = self.seal_files(dataset_id, staging / "out")
        return {"contributors": len(included), "sessions": len(opener.sources), "episodes": summary.episodes,
                "steps": summary.steps, "bytes": summary.bytes, "key": wrapped, "included": set(included)}

    def _set(self, dataset_id: str, **values: Any) -> None:
        with self.store.engine.begin() as c:
            c.execute(datasets.update().where(datasets.c.id == dataset_id).values(**values))

    def seal_files(self, dataset_id: str, staging: Path) -> bytes:
        """Encrypt a built dataset's files into the datasets directory under a new dataset key;
        returns that key wrapped for the collector. Erasure deletes it with the files."""
        key = secrets.token_bytes(32)
        sealer = Sealer(contributor_key=key, context=f"dataset/{dataset_id}")
        out = self.store.datasets_dir / dataset_id
        tmp = out.with_suffix(".sealing")
        shutil.rmtree(tmp, ignore_errors=True)
        for src in staging.rglob("*"):
            if src.is_file():
                name = str(src.relative_to(staging))
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes(sealer.seal(src.read_bytes(), slot=name))
        tmp.rename(out)
        return self.store.wrap_for_collector(key, f"dataset/{dataset_id}")

    def rebuild(self, device: Device, dataset_id: str) -> Dataset:
        old = self._row(dataset_id)
        return self.build(device, old["fmt"], old["precision_ms"], rebuild_of=dataset_id)

    def start_rebuild(self, device: Device, dataset_id: str) -> Dataset:
        old = self._row(dataset_id)
        return self.start(device, old["fmt"], old["precision_ms"], rebuild_of=dataset_id)

    def listing(self, device: Device) -> list[Dataset]:
        require(device, "steward", "ml_engineer")
        with self.store.engine.connect() as c:
            rows = c.execute(select(datasets).order_by(datasets.c.created_ns))
            return [Dataset.model_validate(dict(r._mapping)) for r in rows]

    def files(self, device: Device, dataset_id: str) -> list[str]:
        require(device, "ml_engineer")
        self._ready(dataset_id)
        return self._files(self.store.datasets_dir / dataset_id)

    def read(self, device: Device, dataset_id: str, name: str) -> bytes:
        """One file of a ready dataset, decrypted; every read is in the audit log."""
        require(device, "ml_engineer")
        row, root = self._ready(dataset_id), self.store.datasets_dir / dataset_id
        if name not in self._files(root):
            raise NotFound(f"dataset {dataset_id} has no file {name}")
        key = self.store.open_envelope(row["key"], f"dataset/{dataset_id}")
        with self.store.engine.begin() as c:
            self.store.audit(c, device.id, "dataset_read", f"{dataset_id}/{name}")
        sealer = Sealer(contributor_key=key, context=f"dataset/{dataset_id}")
        return sealer.open((root / name).read_bytes(), slot=name)

    # -- what a build reads -----------------------------------------------------------------

    def _readable_sessions(self) -> dict[str, list[tuple[str, int]]]:
        """Complete sessions of contributors who deposited a key and do not object, by person."""
        objecting = ConsentRecords(store=self.store).objecting()
        with self.store.engine.connect() as c:
            rows = c.execute(
                select(sessions.c.id, sessions.c.contributor_id, sessions.c.chunks)
                .where(sessions.c.completed_ns.is_not(None))
                .order_by(sessions.c.id)
            ).all()
        by_person: dict[str, list[tuple[str, int]]] = {}
        keyed = self.store.keyed_contributors()
        for r in rows:
            if r.contributor_id in keyed and r.contributor_id not in objecting:
                by_person.setdefault(r.contributor_id, []).append((r.id, r.chunks))
        return by_person

    def _assemble(self, work: Path, readable: dict[str, list[tuple[str, int]]]) -> tuple[_Opener, set[str]]:
        """Each session file rebuilt from its chunks (still encrypted) beside an in-memory key."""
        opener, included = _Opener(), set()
        for who, held in readable.items():
            key = self.store.data_key(who)
            if key is None:
                continue
            dd = DataDir(root=work / who, key_backend=MemoryKeyBackend(key=key))
            dd.sessions_dir.mkdir(parents=True)
            for sid, n in held:
                try:
                    path = dd.path_of(sid)
                except StoreError:
                    continue  # not a recorder's session id: nothing a build can read
                with open(path, "wb") as fh:
                    for idx in range(n):
                        fh.write((self.store.blobs / who / sid / f"{idx:06d}").read_bytes())
                try:
                    dd.open(sid).close()  # opening decrypts the metadata: the key fits
                except (StoreError, DataKeyError, sqlite3.DatabaseError):
                    continue
                opener.sources[sid] = dd
                included.add(who)
        return opener, included

    def _row(self, dataset_id: str) -> dict[str, Any]:
        """The dataset's row with its wrapped file key: never answered as it is."""
        with self.store.engine.connect() as c:
            row = c.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
        if row is None:
            raise NotFound(f"no dataset {dataset_id}")
        return dict(row._mapping)

    def _ready(self, dataset_id: str) -> dict[str, Any]:
        row = self._row(dataset_id)
        if row["state"] != "ready":
            raise Conflict(f"dataset {dataset_id} is {row['state']} ({row['stale_reason']}); use its rebuild")
        return row

    @staticmethod
    def _files(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@contextmanager
def _staging() -> Iterator[Path]:
    """Where the exporter writes before the files are sealed: memory (tmpfs) where there is
    one, so a plaintext dataset never reaches a disk."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None) as d:
        yield Path(d)


class _Opener:
    """Opens each session from its contributor's directory when the build reaches it."""

    def __init__(self) -> None:
        self.sources: dict[str, DataDir] = {}

    def __call__(self, session_id: str) -> SessionReader:
        return self.sources[session_id].open(session_id)
