"""Sending sealed sessions to the collector: chunked, idempotent, resumable.

The server is asked which chunks it already holds, so an upload cut by a crash or a lost
network continues where it stopped; a chunk sent twice is stored once. What a failed request
means (retry or report) is the :class:`~deskscribe.client.CollectorClient`'s to decide.
"""

from __future__ import annotations

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

