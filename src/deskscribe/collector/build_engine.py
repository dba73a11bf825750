"""What runs a dataset build's reading and exporting: in the collector's own process (the
default) or on a cluster (``ray_build``). Either engine gets each session's blob names and its
contributor's data key unwrapped in memory, and writes the exported files into ``out``; the
collector keeps the dataset key and seals what the engine wrote.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from deskscribe.collector.blobs import BlobStore
from deskscribe.collector.scratch import work_dir
from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.export.base import BuildSummary
from deskscribe.errors import DataKeyError, StoreError
from deskscribe.keystore import MemoryKeyBackend
from deskscribe.store import SessionReader


@dataclass(frozen=True)
class SessionJob:
    """One uploaded session a build reads; ``key`` is its contributor's data key, in memory."""

    contributor: str
    session_id: str
    chunks: int
    key: bytes = field(repr=False)

    def blob_names(self) -> list[str]:
        return [f"{self.contributor}/{self.session_id}/{idx:06d}" for idx in range(self.chunks)]


@dataclass
class Exported:
    summary: BuildSummary
    included: set[str]  # contributors with at least one session that could be read
    sessions: int


class BuildEngine(Protocol):
    def export(self, *, jobs: Sequence[SessionJob], blobs: BlobStore, release: Release, fmt: str,
               out: Path) -> Exported: ...


def assemble(job: SessionJob, blobs: BlobStore, work: Path) -> DataDir | None:
    """The session file rebuilt from its chunks (still encrypted) beside its key held in memory;
    None when it is not a session this key opens."""
    dd = DataDir(root=work / job.contributor, key_backend=MemoryKeyBackend(key=job.key))
    dd.sessions_dir.mkdir(parents=True, exist_ok=True)
    try:
        path = dd.path_of(job.session_id)
    except StoreError:
        return None  # not a recorder's session id: nothing a build can read
    with open(path, "wb") as fh:
        for name in job.blob_names():
            fh.write(blobs.get(name))
    try:
        dd.open(job.session_id).close()  # opening decrypts the metadata: the key fits
    except (StoreError, DataKeyError, sqlite3.DatabaseError):
        return None
    return dd


class Opener:
    """Opens each assembled session from its contributor's directory when the build reaches it."""

    def __init__(self) -> None:
        self.sources: dict[str, DataDir] = {}
        self.owners: dict[str, str] = {}  # session id -> contributor id

    def add(self, job: SessionJob, blobs: BlobStore, work: Path) -> None:
        dd = assemble(job, blobs, work)
        if dd is not None:
            self.sources[job.session_id] = dd
            self.owners[job.session_id] = job.contributor

    def __call__(self, session_id: str) -> SessionReader:
        return self.sources[session_id].open(session_id)


@dataclass(frozen=True)
class LocalEngine:
    """The build in this process; assembled (still encrypted) session files go to ``scratch``."""

    scratch: Path | None = None

    def export(self, *, jobs: Sequence[SessionJob], blobs: BlobStore, release: Release, fmt: str,
               out: Path) -> Exported:
        with work_dir(self.scratch) as work:
            opener = Opener()
            for job in jobs:
                opener.add(job, blobs, work)
            summary = build_dataset(open_session=opener, session_ids=sorted(opener.sources),
                                    exporter=open_exporter(fmt, out=out), release=release, fmt=fmt)
        return Exported(summary=summary, included=set(opener.owners.values()), sessions=len(opener.sources))


@dataclass(frozen=True)
class ByFormat:
    """``chosen`` for the formats it builds, ``rest`` (the local engine) for the others: a
    collector serving with a cluster still builds every format its API offers."""

    chosen: BuildEngine
    formats: tuple[str, ...]
    rest: BuildEngine

    def export(self, *, jobs: Sequence[SessionJob], blobs: BlobStore, release: Release, fmt: str,
               out: Path) -> Exported:
        engine = self.chosen if fmt in self.formats else self.rest
        return engine.export(jobs=jobs, blobs=blobs, release=release, fmt=fmt, out=out)
