"""Local session store: one SQLite file (WAL) per session, content sealed with AES-GCM.

Events are written by one writer thread in chunks (at most ~250 ms per commit): a chunk is
zlib-compressed JSON lines sealed as one blob, which keeps per-event cost low and leaves no
plaintext typed text or window title in the database bytes. With WAL and synchronous=NORMAL a
``kill -9`` loses only what was not yet committed.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from deskscribe import instructions
from deskscribe.errors import StoreError
from deskscribe.events import Event, SessionMeta
from deskscribe.frame_codec import FrameRecord
from deskscribe.instructions import Annotation
from deskscribe.sealer import Sealer

COMMIT_INTERVAL_S = 0.25
QUEUE_LIMIT = 200_000
_STOP = None  # queued last by close: the writer thread commits what came before and ends

# What the writer thread is handed: a flushed run of events, one frame, or the end.
_Item = list[tuple[int, Event]] | FrameRecord | None

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, n INTEGER NOT NULL,
    t_first INTEGER NOT NULL, t_last INTEGER NOT NULL, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL, base INTEGER, blob BLOB NOT NULL);
"""


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"session file {path.name} is damaged or not a deskscribe store ({exc});"
                         f" delete it with `deskscribe sessions delete {path.stem}`") from None
    return conn


class SessionWriter:
    """Accepts events and frames from capture threads; one thread commits them in batches."""

    def __init__(self, *, path: Path, meta: SessionMeta, sealer: Sealer) -> None:
        self.path = path
        self.meta = meta
        self._sealer = sealer
        self._conn = _connect(path)
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(meta.schema_version),))
        self._put_meta("session", json.dumps(meta.to_json()).encode())
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._stopping = threading.Event()
        self._staged: list[tuple[int, Event]] = []
        self._next_event = 1
        self._next_frame = 1
        self.dropped = 0
        self.events_written = 0
        self.frames_written = 0
        self.bytes_written = 0
        self._thread = threading.Thread(target=self._run, name="deskscribe-writer", daemon=True)
        self._thread.start()

    def _put_meta(self, key: str, value: bytes) -> None:
        blob = self._sealer.seal(value, slot=f"meta/{key}")
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, blob))

    def add_event(self, event: Event) -> int:
        """Stage one event and return its id; :meth:`flush` hands staged events to the writer
        thread in one step. Called only from the capture pipeline thread."""
        event_id = self._next_event
        self._next_event += 1
        self._staged.append((event_id, event))
        return event_id

    def flush(self) -> None:
        if self._staged:
            staged, self._staged = self._staged, []
            self._offer(staged)

    def reserve_frame_id(self) -> int:
        frame_id = self._next_frame
        self._next_frame += 1
        return frame_id

    def add_frame(self, record: FrameRecord) -> None:
        self._offer(record)

    def _offer(self, item: _Item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        """Block for the first item, then sleep out the commit window and take everything
        queued meanwhile: one wakeup per commit instead of one per event."""
        while True:
            batch = [self._queue.get()]
            if batch[0] is not _STOP:
                self._stopping.wait(COMMIT_INTERVAL_S)
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write([b for b in batch if b is not _STOP])
            if any(b is _STOP for b in batch):
                return

    def _write(self, batch: list[_Item]) -> None:
        events = [pair for b in batch if isinstance(b, list) for pair in b]
        frames = [b for b in batch if isinstance(b, FrameRecord)]
        self._conn.execute("BEGIN")
        if events:
            rows = json.dumps([[i, e.t_ns, e.kind, e.data] for i, e in events], separators=(",", ":"))
            first, last = events[0][0], events[-1][0]
            blob = self._sealer.seal(zlib.compress(rows.encode(), 1), slot=f"chunk/{first}")
            self._conn.execute("INSERT INTO chunks VALUES (?,?,?,?,?,?)", (
                first, last, len(events), events[0][1].t_ns, events[-1][1].t_ns, blob))
            self.events_written += len(events)
            self.bytes_written += len(blob)
        for rec in frames:
            blob = self._sealer.seal(rec.encode(), slot=f"frame/{rec.frame_id}")
            self._conn.execute("INSERT INTO frames VALUES (?,?,?,?)",
                               (rec.frame_id, rec.t_ns, rec.base, blob))
            self.frames_written += 1
            self.bytes_written += len(blob)
        self._conn.execute("COMMIT")

    def close(self, *, seal: bool = True) -> None:
        """Flush everything queued; a sealed session is complete and may be uploaded."""
        self.flush()
        self._stopping.set()
        self._queue.put(_STOP)
        self._thread.join()
        if seal:
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('sealed', '1')")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """The same as :meth:`close`: what was written stays, sealed as a whole session."""
        self.close()


class SessionReader:
    """Decrypting, read-only view of one session file (sealed, live or crashed)."""

    def __init__(self, *, path: Path, sealer: Sealer) -> None:
        if not path.exists():
            raise StoreError(f"no session {path.stem}; see `deskscribe sessions list`")
        self.path = path
        self._sealer = sealer
        self._conn = _connect(path)
        row = self._conn.execute("SELECT v FROM meta WHERE k='session'").fetchone()
        if row is None:
            raise StoreError(f"session {path.stem} has no metadata; it was never started")
        self.meta = SessionMeta.from_json(json.loads(self._sealer.open(row[0], slot="meta/session")))

    @property
    def sealed(self) -> bool:
        return self._conn.execute("SELECT 1 FROM meta WHERE k='sealed'").fetchone() is not None

    def iter_events(self) -> Iterator[tuple[int, Event]]:
        for first, blob in self._conn.execute("SELECT first_id, blob FROM chunks ORDER BY first_id"):
            rows = json.loads(zlib.decompress(self._sealer.open(blob, slot=f"chunk/{first}")))
            for event_id, t_ns, kind, data in rows:
                yield event_id, Event(t_ns=t_ns, kind=kind, data=data)

    def annotations(self) -> list[Annotation]:
        """Instructions given in review: from the file beside this one, or, in an upload copy
        (which has none beside it), from its metadata."""
        beside = instructions.sidecar(self.path)
        if beside.exists():
            return instructions.read(beside, self._sealer)
        return instructions.from_meta(self.meta.extra)

    def counts(self) -> tuple[int, int, int]:
        """(events, frames, last event t_ns) without decrypting anything."""
        n, t_last = self._conn.execute(
            "SELECT COALESCE(SUM(n),0), COALESCE(MAX(t_last),0) FROM chunks").fetchone()
        (frames,) = self._conn.execute("SELECT COUNT(*) FROM frames").fetchone()
        return int(n), int(frames), int(t_last)

    def frame_record(self, frame_id: int) -> FrameRecord:
        row = self._conn.execute("SELECT t_ns, base, blob FROM frames WHERE id=?", (frame_id,)).fetchone()
        if row is None:
            raise StoreError(f"session {self.path.stem} has no frame {frame_id}")
        t_ns, base, blob = row
        return FrameRecord.decode(frame_id, t_ns, base, self._sealer.open(blob, slot=f"frame/{frame_id}"))

    def frame_chain(self, frame_id: int) -> list[FrameRecord]:
        """The keyframe and every delta up to ``frame_id``: what rebuilds that screenshot."""
        base = self.frame_record(frame_id).chain
        return self.frames_between(base, base - 1, frame_id)

    def frames_between(self, base: int, after_id: int, upto_id: int) -> list[FrameRecord]:
        """Records of keyframe chain ``base`` with after_id < id <= upto_id, in order."""
        ids = [r[0] for r in self._conn.execute(
            "SELECT id FROM frames WHERE (id=? OR base=?) AND id>? AND id<=? ORDER BY id",
            (base, base, after_id, upto_id))]
        return [self.frame_record(i) for i in ids]

    def frame_ids(self) -> list[int]:
        return [r[0] for r in self._conn.execute("SELECT id FROM frames ORDER BY id")]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
