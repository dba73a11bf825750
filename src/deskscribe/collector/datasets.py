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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from deskscribe.collector.build_jobs import Leases, new_owner
from deskscribe.collector.consent import ConsentRecords
from deskscribe.collector.models import Dataset
from deskscribe.collector.roles import Device, require
from deskscribe.collector.schema import dataset_members, datasets, sessions, wrapped_keys
from deskscribe.collector.store import MIN_PEOPLE, CollectorStore
from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export import FORMATS, open_exporter
from deskscribe.envelope import wrap_key
from deskscribe.errors import Conflict, DataKeyError, Invalid, NotFound, StoreError
from deskscribe.keystore import MemoryKeyBackend
from deskscribe.sealer import Sealer, dataset_file_context, subkey
from deskscribe.segments import is_sealed_in_segments, open_chunks, read_chunks, seal_chunks, seal_file
from deskscribe.store import SessionReader


class DatasetBuilds:
    def __init__(self, *, store: CollectorStore, min_people: int = MIN_PEOPLE,
                 leases: Leases | None = None) -> None:
        self.store = store
        self.min_people = min_people
        self.leases = leases or Leases(engine=store.engine, wall_ns=store.wall_ns, owner=new_owner())

    def build(self, device: Device, fmt: str, precision_ms: int, *, rebuild_of: str | None = None,
              poll_s: float = 0.5) -> Dataset:
        """Build now and return the finished dataset (the steward's shell); when a collector
        already builds the same request, wait for that build instead."""
        row = self.start(device, fmt, precision_ms, rebuild_of=rebuild_of)
        if not self.run(row.id, device.id):
            while self._row(row.id)["state"] == "building":
                time.sleep(poll_s)
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
        pending = f"{fmt}/{precision_ms}/{rebuild_of or ''}"  # one build of the same request at a time
        for _ in range(2):
            row = Dataset(id=secrets.token_hex(8), fmt=fmt, precision_ms=precision_ms, state="building",
                          created_ns=self.store.wall_ns(), contributors=0, sessions=0, episodes=0, steps=0,
                          bytes=0, rebuild_of=rebuild_of, stale_reason=None)
            try:
                with self.store.engine.begin() as c:
                    c.execute(datasets.insert().values(**row.model_dump(), requested_by=device.id,
                                                       pending=pending))
                return row
            except IntegrityError:  # the same request is being built: that build answers it
                with self.store.engine.connect() as c:
                    same = c.execute(select(datasets).where(datasets.c.pending == pending)).first()
                if same is not None:
                    return Dataset.model_validate(dict(same._mapping))
        raise Conflict("the same build was requested at the same moment; ask again")

    def run(self, dataset_id: str, actor: str | None = None) -> bool:
        """Build a dataset recorded by :meth:`start` if no collector holds it; False when one
        does (it records the result). A failure is recorded on the dataset."""
        if not self.leases.claim(dataset_id):
            return False
        self.run_held(dataset_id, actor)
        return True

    def run_held(self, dataset_id: str, actor: str | None = None) -> None:
        """Build a job this collector holds, renewing the lease; a lost lease records nothing."""
        row = self._row(dataset_id)
        actor = actor or row["requested_by"] or "collector"
        with self.leases.renewed(dataset_id):
            try:
                done = self._build(dataset_id, row["fmt"], row["precision_ms"])
            except Exception as exc:  # recorded for the steward; the collector keeps serving
                with self.store.engine.begin() as c:
                    c.execute(datasets.update().where(self.leases.holds(dataset_id)).values(
                        state="failed", pending=None, lease_owner=None,
                        stale_reason=f"build failed: {exc}"[:200]))
                raise
            sealed = done.pop("sealed")
            try:
                self._record(dataset_id, row, done, actor, sealed)
            finally:
                shutil.rmtree(sealed, ignore_errors=True)

    def _record(self, dataset_id: str, row: dict[str, Any], done: dict[str, Any], actor: str,
                sealed: Path) -> None:
        """The result, written only while this collector still holds the job; the files move
        into place inside that transaction."""
        out = self.store.datasets_dir / dataset_id
        with self.store.engine.begin() as c:
            keyed = {r.contributor_id for r in c.execute(select(wrapped_keys.c.contributor_id))}
            included = done.pop("included")
            erased = included - keyed  # erased while the build ran: this build is never served
            why = "a contributor erased their data during the build; rebuild it" if erased else None
            held = c.execute(datasets.update().where(self.leases.holds(dataset_id)).values(
                **done, state="stale" if erased else "ready", stale_reason=why, pending=None,
                lease_owner=None, lease_until_ns=None)).rowcount == 1
            if not held:
                return  # another collector took the job over: its build is the one recorded
            for who in sorted(included & keyed):
                c.execute(dataset_members.insert().values(dataset_id=dataset_id, contributor_id=who))
            self.store.audit(c, actor, "dataset_build", dataset_id, f"{done['contributors']} contributors"
                             + (f", rebuild of {row['rebuild_of']}" if row["rebuild_of"] else ""))
            if erased:
                c.execute(datasets.update().where(datasets.c.id == dataset_id).values(key=None))
            else:
                shutil.rmtree(out, ignore_errors=True)  # what a holder before this one left
                sealed.rename(out)

    def recover(self) -> None:
        """Files sealed whole by older collectors are sealed in segments. Builds cut off by a
        restart are not lost: their lease runs out and a collector's worker builds them again."""
        self.reseal_whole_files()

    def _build(self, dataset_id: str, fmt: str, precision_ms: int) -> dict[str, Any]:
        readable = self._readable_sessions()
        with tempfile.TemporaryDirectory(dir=self.store.blobs) as work, _staging() as staging:
            opener, included = self._assemble(Path(work), readable)
            if len(included) < self.min_people:
                raise Conflict(f"a dataset spans people, so it needs at least {self.min_people}"
                               f" contributors; {len(included)} have readable sessions now")
            summary = build_dataset(open_session=opener, session_ids=sorted(opener.sources),
                                    exporter=open_exporter(fmt, out=staging / "out"),
                                    release=Release(key=secrets.token_bytes(32), precision_ms=precision_ms),
                                    fmt=fmt)
            sealed = self.store.datasets_dir / f".{dataset_id}.{self.leases.owner}.sealing"
            wrapped = self.seal_files(dataset_id, staging / "out", into=sealed)
        return {"contributors": len(included), "sessions": len(opener.sources), "episodes": summary.episodes,
                "steps": summary.steps, "bytes": summary.bytes, "key": wrapped, "included": set(included),
                "sealed": sealed}

    def _set(self, dataset_id: str, **values: Any) -> None:
        with self.store.engine.begin() as c:
            c.execute(datasets.update().where(datasets.c.id == dataset_id).values(**values))

    def seal_files(self, dataset_id: str, staging: Path, *, into: Path | None = None) -> bytes:
        """Encrypt a built dataset's files into the datasets directory (or ``into``, for the
        build to move into place) under a new dataset key; returns that key wrapped for the
        collector. Erasure deletes it with the files."""
        key = secrets.token_bytes(32)
        out = into or self.store.datasets_dir / dataset_id
        tmp = out.with_name(out.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        for src in staging.rglob("*"):
            if src.is_file():
                name = str(src.relative_to(staging))
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                context = dataset_file_context(dataset_id, name)
                seal_file(src, tmp / name, key=subkey(key, context), context=context)
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
        """One file of a ready dataset, decrypted whole (for files a page shows)."""
        return b"".join(self.sealed_file(device, dataset_id, name).plaintext())

    def sealed_file(self, device: Device, dataset_id: str, name: str) -> SealedFile:
        """One file of a ready dataset with its own key; every read is in the audit log."""
        require(device, "ml_engineer")
        row, root = self._ready(dataset_id), self.store.datasets_dir / dataset_id
        if name not in self._files(root):
            raise NotFound(f"dataset {dataset_id} has no file {name}")
        key = self.store.open_envelope(row["key"], f"dataset/{dataset_id}")
        with self.store.engine.begin() as c:
            self.store.audit(c, device.id, "dataset_read", f"{dataset_id}/{name}")
        context = dataset_file_context(dataset_id, name)
        return SealedFile(path=root / name, context=context, key=subkey(key, context))

    def reseal_whole_files(self) -> int:
        """Files that collectors before segment sealing sealed whole (they were built in memory,
        so they fit in it) are sealed in segments, one rename each: a crash leaves every file
        readable in one format or the other. Returns how many were re-sealed."""
        with self.store.engine.connect() as c:
            rows = c.execute(select(datasets.c.id, datasets.c.key).where(datasets.c.key.is_not(None))).all()
        done = 0
        for row in rows:
            root = self.store.datasets_dir / row.id
            whole = [n for n in self._files(root) if not is_sealed_in_segments(root / n)]
            try:
                key = self.store.open_envelope(row.key, f"dataset/{row.id}") if whole else b""
                for name in whole:
                    _reseal(root, row.id, name, key)
                    done += 1
            except DataKeyError:
                continue  # unreadable before too: reading it still says so
        return done

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
                opener.owners[sid] = who
                included.add(who)
        return opener, included

    @contextmanager
    def readable(self) -> Iterator[_Opener]:
        """Every uploaded session a build could read, opened on demand with keys held in memory."""
        with tempfile.TemporaryDirectory(dir=self.store.blobs) as work:
            yield self._assemble(Path(work), self._readable_sessions())[0]

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


def _reseal(root: Path, dataset_id: str, name: str, key: bytes) -> None:
    plain = Sealer(contributor_key=key, context=f"dataset/{dataset_id}").open((root / name).read_bytes(),
                                                                             slot=name)
    tmp, context = root.parent / f".{dataset_id}.resealing", dataset_file_context(dataset_id, name)
    with open(tmp, "wb") as fh:
        for piece in seal_chunks([plain], key=subkey(key, context), context=context):
            fh.write(piece)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / name)


@contextmanager
def _staging() -> Iterator[Path]:
    """Where the exporter writes before the files are sealed: memory (tmpfs) where there is
    one, so a plaintext dataset never reaches a disk."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None) as d:
        yield Path(d)


@dataclass(frozen=True)
class SealedFile:
    """A dataset file as stored, with the key of that one file: sent as it is (sealed) with the
    key wrapped for the downloader, or opened here segment by segment for older clients."""

    path: Path
    context: str
    key: bytes

    def key_for(self, recipient: bytes) -> bytes:
        """This file's key wrapped with HPKE for a key pair the downloader made for this read."""
        try:
            return wrap_key(self.key, recipient=recipient, contributor=self.context)
        except (DataKeyError, ValueError) as exc:
            raise Invalid(f"the download key is not an ML-KEM-768 + X25519 public key ({exc})") from None

    def sealed(self) -> Iterator[bytes]:
        with open(self.path, "rb") as fh:
            yield from read_chunks(fh)

    def plaintext(self) -> Iterator[bytes]:
        with open(self.path, "rb") as fh:
            yield from open_chunks(read_chunks(fh), key=self.key, context=self.context)


class _Opener:
    """Opens each session from its contributor's directory when the build reaches it."""

    def __init__(self) -> None:
        self.sources: dict[str, DataDir] = {}
        self.owners: dict[str, str] = {}  # session id -> contributor id

    def __call__(self, session_id: str) -> SessionReader:
        return self.sources[session_id].open(session_id)
