"""Sending sealed sessions to the collector: chunked, idempotent, resumable.

The server is asked which chunks it already holds, so an upload cut by a crash or a lost
network continues where it stopped; a chunk sent twice is stored once. What a failed request
means (retry or report) is the :class:`~deskscribe.client.CollectorClient`'s to decide.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from deskscribe.client import CollectorClient
from deskscribe.errors import StoreError

CHUNK_BYTES = 1024 * 1024


class Uploader:
    def __init__(self, *, client: CollectorClient, chunk_bytes: int = CHUNK_BYTES,
                 sleep: Callable[[float], None] = time.sleep, now_s: Callable[[], float] = time.monotonic,
                 max_bytes_per_s: float | None = None) -> None:
        self._client = client
        self._chunk = chunk_bytes
        self._sleep = sleep
        self._now_s = now_s
        self._rate = max_bytes_per_s

    def upload(self, session_id: str, path: Path, progress: Callable[[int, int], None] = lambda d, t: None
               ) -> int:
        """Send what the server lacks of ``path``; returns how many chunks were sent now."""
        data = path.read_bytes()
        if not data:
            raise StoreError(f"{path} is empty; nothing to upload")
        parts = [data[i:i + self._chunk] for i in range(0, len(data), self._chunk)]
        have = set(self._client.chunks_held(session_id))
        sent = 0
        for idx, part in enumerate(parts):
            if idx not in have:
                started = self._now_s()
                self._client.put_chunk(session_id, idx, part)
                sent += 1
                self._throttle(len(part), self._now_s() - started)
            progress(idx + 1, len(parts))
        self._client.complete(session_id, len(parts))
        return sent

    def _throttle(self, size: int, took: float) -> None:
        if self._rate:
            self._sleep(max(0.0, size / self._rate - took))


class Outbox:
    """Which sessions the contributor approved for upload, and which have gone. A JSON file in
    the data dir, replaced atomically, so it survives crashes and restarts."""

    def __init__(self, *, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock

    def _read(self) -> dict[str, dict[str, float]]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"approved": {}, "uploaded": {}}
        except (OSError, ValueError) as exc:
            raise StoreError(f"the outbox {self.path} is damaged ({exc});"
                              " delete it and approve again") from None
        return {"approved": dict(raw.get("approved", {})), "uploaded": dict(raw.get("uploaded", {}))}

    def _write(self, state: dict[str, dict[str, float]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.path)

    def approve(self, session_id: str) -> None:
        state = self._read()
        state["approved"].setdefault(session_id, self._clock())
        self._write(state)

    def mark_uploaded(self, session_id: str) -> None:
        state = self._read()
        state["uploaded"][session_id] = self._clock()
        self._write(state)

    def forget(self, session_id: str) -> None:
        state = self._read()
        for part in state.values():
            part.pop(session_id, None)
        self._write(state)

    def remove(self) -> None:
        """Erasure: the outbox names session ids, so it goes with them."""
        for path in (self.path, self.path.with_suffix(".tmp")):
            path.unlink(missing_ok=True)

    def auto_approve(self, sealed_at: dict[str, float], hours: float) -> list[str]:
        """Approve sessions sealed more than ``hours`` ago that are not approved yet (the
        policy's auto-approval, announced in the notice); returns them."""
        state = self._read()
        due = [s for s, at in sorted(sealed_at.items(), key=lambda kv: kv[1])
               if s not in state["approved"] and self._clock() - at >= hours * 3600]
        for s in due:
            state["approved"][s] = self._clock()
        if due:
            self._write(state)
        return due

    def approved(self) -> set[str]:
        return set(self._read()["approved"])

    def pending(self) -> list[str]:
        """Approved and not uploaded yet, oldest approval first."""
        state = self._read()
        return sorted((s for s in state["approved"] if s not in state["uploaded"]),
                      key=lambda s: state["approved"][s])
