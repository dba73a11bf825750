"""Datasets built on the collector from uploaded sessions, for the ML-engineer role.

A build reassembles each session from its chunks, unwraps its contributor's data key in memory
and runs the same pipeline as `deskscribe build`; nothing is decrypted to disk. A dataset spans
people, so it is refused below ``min_people`` contributors. Erasure turns every dataset built
from the erased contributor stale and deletes its files; a rebuild leaves them out.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from deskscribe.collector.blobs import DATASETS, BlobStore, LocalBlobs
from deskscribe.collector.build_engine import BuildEngine, LocalEngine, Opener, SessionJob
from deskscribe.collector.build_jobs import Leases, new_owner
from deskscribe.collector.consent import ConsentRecords
from deskscribe.collector.models import Dataset
from deskscribe.collector.roles import Device, require
from deskscribe.collector.schema import dataset_members, datasets, sessions, wrapped_keys
from deskscribe.collector.scratch import staging_base, sweep_leftovers, work_dir
from deskscribe.collector.store import MIN_PEOPLE, CollectorStore
from deskscribe.dataset.build import Release
from deskscribe.dataset.export import FORMATS
from deskscribe.envelope import wrap_key
from deskscribe.errors import Conflict, DataKeyError, Invalid, NotFound
from deskscribe.sealer import Sealer, dataset_file_context, subkey
from deskscribe.segments import is_sealed_in_segments, open_chunks, read_chunks, seal_chunks, seal_file


class DatasetBuilds:
    def __init__(self, *, store: CollectorStore, min_people: int = MIN_PEOPLE,
                 leases: Leases | None = None, build_engine: BuildEngine | None = None) -> None:
        self.store = store
        self.build_engine = build_engine or LocalEngine(scratch=store.scratch)
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
                self.store.blobs.delete(sealed)

    def _record(self, dataset_id: str, row: dict[str, Any], done: dict[str, Any], actor: str,
                sealed: str) -> None:
        """The result, written only while this collector still holds the job; the files move
        into place inside that transaction."""
        out = f"{DATASETS}/{dataset_id}"
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
                self.store.blobs.delete(out)  # what a holder before this one left
                self.store.blobs.move(sealed, out)

    def recover(self) -> None:
        """Files sealed whole by older collectors are sealed in segments. Builds cut off by a
        restart are not lost: their lease runs out and a collector's worker builds them again;
        what they had staged here is deleted."""
        sweep_leftovers(self.store.scratch, staging_base())
        self.reseal_whole_files()

    def _build(self, dataset_id: str, fmt: str, precision_ms: int) -> dict[str, Any]:
        jobs = self._jobs(self._readable_sessions())
        with work_dir(staging_base()) as staging:
            done = self.build_engine.export(jobs=jobs, blobs=self.store.blobs, fmt=fmt, out=staging / "out",
                                            release=Release(key=secrets.token_bytes(32),
                                                            precision_ms=precision_ms))
            if len(done.included) < self.min_people:
                raise Conflict(f"a dataset spans people, so it needs at least {self.min_people}"
                               f" contributors; {len(done.included)} have readable sessions now")
            sealed = f"{DATASETS}/.{dataset_id}.{self.leases.owner}.sealing"
            wrapped = self.seal_files(dataset_id, staging / "out", into=sealed)
        summary = done.summary
        return {"contributors": len(done.included), "sessions": done.sessions, "episodes": summary.episodes,
                "steps": summary.steps, "bytes": summary.bytes, "key": wrapped, "included": done.included,
                "sealed": sealed}

    def _set(self, dataset_id: str, **values: Any) -> None:
        with self.store.engine.begin() as c:
            c.execute(datasets.update().where(datasets.c.id == dataset_id).values(**values))

    def seal_files(self, dataset_id: str, staging: Path, *, into: str | None = None) -> bytes:
        """Encrypt a built dataset's files into the blob store (at ``into``, for the build to
        move into place, or where the dataset's files live) under a new dataset key; returns
        that key wrapped for the collector. Erasure deletes it with the files."""
        key, blobs = secrets.token_bytes(32), self.store.blobs
        out = into or f"{DATASETS}/{dataset_id}"
        blobs.delete(out)
        with work_dir(self.store.scratch) as work:
            for src in sorted(staging.rglob("*")):
                if src.is_file():
                    name = str(src.relative_to(staging))
                    context = dataset_file_context(dataset_id, name)
                    sealed = work / "file"
                    seal_file(src, sealed, key=subkey(key, context), context=context)
                    blobs.put_file(f"{out}/{name}", sealed)
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
        return self._files(dataset_id)

    def read(self, device: Device, dataset_id: str, name: str) -> bytes:
        """One file of a ready dataset, decrypted whole (for files a page shows)."""
        return b"".join(self.sealed_file(device, dataset_id, name).plaintext())

    def sealed_file(self, device: Device, dataset_id: str, name: str) -> SealedFile:
        """One file of a ready dataset with its own key; every read is in the audit log."""
        require(device, "ml_engineer")
        row = self._ready(dataset_id)
        if name not in self._files(dataset_id):
            raise NotFound(f"dataset {dataset_id} has no file {name}")
        key = self.store.open_envelope(row["key"], f"dataset/{dataset_id}")
        with self.store.engine.begin() as c:
            self.store.audit(c, device.id, "dataset_read", f"{dataset_id}/{name}")
        context = dataset_file_context(dataset_id, name)
        return SealedFile(blobs=self.store.blobs, name=f"{DATASETS}/{dataset_id}/{name}", context=context,
                          key=subkey(key, context))

    def reseal_whole_files(self) -> int:
        """Files that collectors before segment sealing sealed whole (they were built in memory,
        so they fit in it) are sealed in segments, one rename each: a crash leaves every file
        readable in one format or the other. Returns how many were re-sealed. Only local blob
        directories can hold such files: those collectors kept nothing elsewhere."""
        if not isinstance(self.store.blobs, LocalBlobs):
            return 0
        with self.store.engine.connect() as c:
            rows = c.execute(select(datasets.c.id, datasets.c.key).where(datasets.c.key.is_not(None))).all()
        done = 0
        for row in rows:
            root = self.store.blobs.root / DATASETS / row.id
            whole = [n for n in self._files(row.id) if not is_sealed_in_segments(root / n)]
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

    def _jobs(self, readable: dict[str, list[tuple[str, int]]]) -> list[SessionJob]:
        """What a build reads: each session with its contributor's key unwrapped in memory."""
        jobs = []
        for who, held in readable.items():
            key = self.store.data_key(who)
            if key is not None:
                jobs += [SessionJob(contributor=who, session_id=sid, chunks=n, key=key) for sid, n in held]
        return jobs

    @contextmanager
    def readable(self) -> Iterator[Opener]:
        """Every uploaded session a build could read, opened on demand with keys held in memory."""
        with work_dir(self.store.scratch) as work:
            opener = Opener()
            for job in self._jobs(self._readable_sessions()):
                opener.add(job, self.store.blobs, work)
            yield opener

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

    def _files(self, dataset_id: str) -> list[str]:
        return self.store.blobs.names(f"{DATASETS}/{dataset_id}")


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


@dataclass(frozen=True)
class SealedFile:
    """A dataset file as stored, with the key of that one file: sent as it is (sealed) with the
    key wrapped for the downloader, or opened here segment by segment for older clients."""

    blobs: BlobStore
    name: str
    context: str
    key: bytes

    def key_for(self, recipient: bytes) -> bytes:
        """This file's key wrapped with HPKE for a key pair the downloader made for this read."""
        try:
            return wrap_key(self.key, recipient=recipient, contributor=self.context)
        except (DataKeyError, ValueError) as exc:
            raise Invalid(f"the download key is not an ML-KEM-768 + X25519 public key ({exc})") from None

    def size(self) -> int:
        return self.blobs.size(self.name)

    def sealed(self) -> Iterator[bytes]:
        with self.blobs.reading(self.name) as fh:
            yield from read_chunks(fh)

    def plaintext(self) -> Iterator[bytes]:
        with self.blobs.reading(self.name) as fh:
            yield from open_chunks(read_chunks(fh), key=self.key, context=self.context)
