"""The contributor's data directory: pseudonymous identity, data key, sessions, storage budget."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import uuid
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from pathlib import Path

from deskscribe import instructions
from deskscribe.errors import DataKeyError, StoreError
from deskscribe.events import FRAME, Event, SessionMeta
from deskscribe.frame_codec import FrameSource, blacked_out, whole_frame
from deskscribe.geometry import Rect
from deskscribe.instructions import Annotation
from deskscribe.keystore import KeyBackend, load_or_create_key
from deskscribe.outbox import Outbox
from deskscribe.sealer import Sealer
from deskscribe.store import SessionReader, SessionWriter


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    path: Path
    size_bytes: int
    sealed: bool
    events: int
    frames: int
    duration_s: float
    started_wall_ns: int | None
    error: str | None = None


def _file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"),
                                           path.with_name(path.name + "-shm")) if p.exists())


class DataDir:
    def __init__(self, *, root: Path, key_backend: KeyBackend, outbox: Outbox | None = None) -> None:
        self.root = root
        self.sessions_dir = root / "sessions"
        self.outbox = Outbox(root=root) if outbox is None else outbox
        self._key_backend = key_backend
        self._key: bytes | None = None

    @property
    def contributor_id(self) -> str:
        """A random pseudonym created once; never derived from anything about the person."""
        path = self.root / "contributor.json"
        if path.exists():
            return str(json.loads(path.read_text())["contributor_id"])
        self.root.mkdir(parents=True, exist_ok=True)
        cid = str(uuid.uuid4())
        path.write_text(json.dumps({"contributor_id": cid}) + "\n")
        return cid

    def _sealer(self, session_id: str, *, create_key: bool = False) -> Sealer:
        """Only recording creates the data key; reading with none fails instead of making one."""
        if self._key is None:
            key = load_or_create_key(self._key_backend) if create_key else self._key_backend.load()
            if key is None:
                raise DataKeyError(f"no data key for {self.root} ({self._key_backend.name}); sessions"
                                   " recorded under an erased key cannot be decrypted")
            self._key = key
        return Sealer(contributor_key=self._key, context=f"session/{session_id}")

    def data_key(self) -> bytes:
        """The contributor key itself, for wrapping it for the collector."""
        self._sealer("key")
        assert self._key is not None
        return self._key

    def new_session_id(self) -> str:
        return secrets.token_hex(6)

    def path_of(self, session_id: str) -> Path:
        if not session_id or not all(c in "0123456789abcdef" for c in session_id):
            raise StoreError(f"{session_id!r} is not a session id; see `deskscribe sessions list`")
        return self.sessions_dir / f"{session_id}.db"

    def create(self, meta: SessionMeta) -> SessionWriter:
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.sessions_dir.chmod(0o700)
        return SessionWriter(path=self.path_of(meta.session_id), meta=meta,
                             sealer=self._sealer(meta.session_id, create_key=True))

    def open(self, session_id: str) -> SessionReader:
        """Missing and damaged files are reported as such before any key is needed."""
        path = self.path_of(session_id)
        try:
            with path.open("rb") as fh:
                header = fh.read(16)
        except FileNotFoundError:
            raise StoreError(f"no session {session_id}; see `deskscribe sessions list`") from None
        if header != b"SQLite format 3\x00":
            raise StoreError(f"session file {path.name} is damaged or not a deskscribe store;"
                             f" delete it with `deskscribe sessions delete {session_id}`")
        return SessionReader(path=path, sealer=self._sealer(session_id))

    def rewrite(self, session_id: str, *, drop_events: set[int], drop_frames: set[int],
                blackouts: Mapping[int, Sequence[Rect]] | None = None) -> None:
        """Replace a sealed session by a copy without the given events and screenshots, and
        with ``blackouts`` (frame id -> pixel boxes) painted black (a contributor deleting
        steps or areas in review)."""
        path = self.path_of(session_id)
        tmp = path.with_name(path.name + ".rewrite")  # not *.db: never listed as a session
        with self.open(session_id) as reader:
            before = reader.meta.extra
        counts = {"events_deleted_in_review": len(drop_events),
                  "frames_blacked_out_in_review": len(blackouts or {})}
        self._copy(session_id, tmp, drop_events=drop_events, drop_frames=drop_frames,
                   blackouts=blackouts, extra={k: int(before.get(k, 0) or 0) + n for k, n in counts.items()})
        _unlink_session_files(path)  # its annotations stay: they name episodes by time
        self.outbox.drop_copy(session_id)
        os.replace(tmp, path)

    def annotate(self, session_id: str, annotation: Annotation) -> None:
        """Set an episode's instruction beside the sealed session, which stays untouched."""
        path = instructions.sidecar(self.path_of(session_id))
        sealer = self._sealer(session_id)
        given = instructions.read(path, sealer)
        instructions.write(path, sealer, instructions.with_annotation(given, annotation))

    def write_upload_copy(self, session_id: str, dest: Path) -> None:
        """What leaves the device: the session with every time rounded down to the policy's
        timing precision (the notice promises no finer timing leaves)."""
        with self.open(session_id) as reader:
            precision_ms = max(1, int(reader.meta.extra.get("timing_precision_ms", 1)))
            given = reader.annotations()
        precision_ns = precision_ms * 1_000_000
        extra: dict[str, object] = {
            instructions.META_KEY: [a.to_json() for a in instructions.coarse(given, precision_ns)]}
        self._copy(session_id, dest, precision_ns=precision_ns, extra=extra if given else None)

    def _copy(self, session_id: str, dest: Path, *, drop_events: AbstractSet[int] = frozenset(),
              drop_frames: AbstractSet[int] = frozenset(), precision_ns: int = 1,
              extra: dict[str, object] | None = None, blackouts: Mapping[int, Sequence[Rect]] | None = None
              ) -> None:
        """A sealed copy of a session without some events and screenshots, times rounded down
        to ``precision_ns``."""
        with self.open(session_id) as reader:
            for p in (dest, dest.with_name(dest.name + "-wal"), dest.with_name(dest.name + "-shm")):
                p.unlink(missing_ok=True)
            meta = replace(reader.meta, extra={**reader.meta.extra, **(extra or {})})
            with SessionWriter(path=dest, meta=meta, sealer=self._sealer(session_id)) as writer:
                _copy_events(reader, writer, drop_events, drop_frames, precision_ns)
                _copy_frames(reader, writer, drop_frames, precision_ns, blackouts or {})

    def session_ids(self) -> list[str]:
        if not self.sessions_dir.exists():
            return []
        return sorted(p.stem for p in self.sessions_dir.glob("*.db"))

    def info(self, session_id: str) -> SessionInfo:
        path = self.path_of(session_id)
        size = _file_size(path)
        try:
            with self.open(session_id) as reader:
                events, frames, t_last = reader.counts()
                sealed, started = reader.sealed, reader.meta.started_wall_ns
        except Exception as exc:  # a damaged file is listed, not fatal to the listing
            why = str(exc) if isinstance(exc, StoreError | DataKeyError) else (
                f"session file {path.name} is damaged ({exc or type(exc).__name__})")
            return SessionInfo(session_id, path, size, False, 0, 0, 0.0, None, error=why)
        return SessionInfo(session_id, path, size, sealed, events, frames, t_last / 1e9, started)

    def sessions(self) -> list[SessionInfo]:
        infos = [self.info(s) for s in self.session_ids()]
        return sorted(infos, key=lambda i: (i.started_wall_ns or 0, i.session_id))

    def delete(self, session_id: str) -> None:
        path = self.path_of(session_id)
        if not path.exists():
            raise StoreError(f"no session {session_id}; see `deskscribe sessions list`")
        _unlink_session_files(path)
        instructions.remove(instructions.sidecar(path))
        self.outbox.drop_copy(session_id)  # made from what is gone now

    def total_bytes(self) -> int:
        return sum(_file_size(self.path_of(s)) for s in self.session_ids())

    def enforce_budget(self, budget_bytes: int, *, keep: str | None = None) -> list[str]:
        """Delete the oldest sealed sessions until the store fits; returns what was deleted."""
        deleted: list[str] = []
        total = self.total_bytes()
        if total <= budget_bytes:  # the common case: no session needs opening
            return deleted
        for info in self.sessions():
            if total <= budget_bytes:
                break
            if info.sealed and info.session_id != keep:
                self.delete(info.session_id)
                total -= info.size_bytes
                deleted.append(info.session_id)
        return deleted

    def free_bytes(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free


def _unlink_session_files(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)


def _coarse(t_ns: int, precision_ns: int) -> int:
    return t_ns - t_ns % precision_ns


def _copy_events(reader: SessionReader, writer: SessionWriter, drop_events: AbstractSet[int],
                 drop_frames: AbstractSet[int], precision_ns: int) -> None:
    """A frame event goes with its screenshot, so no step points at a dropped one."""
    for n, (event_id, event) in enumerate(reader.iter_events()):
        gone = event.kind == FRAME and int(event.data.get("frame_id", 0)) in drop_frames
        if event_id not in drop_events and not gone:
            data = event.data
            if "t_end_ns" in data:
                data = {**data, "t_end_ns": _coarse(int(data["t_end_ns"]), precision_ns)}
            writer.add_event(Event(t_ns=_coarse(event.t_ns, precision_ns), kind=event.kind, data=data))
        if n % 1000 == 999:
            writer.flush()


def _copy_frames(reader: SessionReader, writer: SessionWriter, drop_frames: AbstractSet[int],
                 precision_ns: int, blackouts: Mapping[int, Sequence[Rect]]) -> None:
    """A kept screenshot whose delta chain ran through a dropped or blacked-out one is stored
    whole, so nothing is rebuilt from what was dropped; a blacked-out one is stored whole too,
    so no crop of the old pixels stays behind."""
    broken: set[int] = set()  # chains that lost a record
    frames = FrameSource(reader=reader)  # ids ascend: each delta is applied once
    for frame_id in reader.frame_ids():
        record = reader.frame_record(frame_id)
        t_ns = _coarse(record.t_ns, precision_ns)
        if frame_id in drop_frames:
            broken.add(record.chain)
        elif frame_id in blackouts:
            broken.add(record.chain)
            painted = blacked_out(frames.image(frame_id), blackouts[frame_id])
            writer.add_frame(whole_frame(frame_id, t_ns, painted))
        elif record.chain in broken:
            writer.add_frame(whole_frame(frame_id, t_ns, frames.image(frame_id)))
        else:
            writer.add_frame(replace(record, t_ns=t_ns))
