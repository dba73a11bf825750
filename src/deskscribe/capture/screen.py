"""The in-memory screen model: what the designated windows showed, and a moment ago.

The model is patched only where the display reported damage, already masked with the layout
valid when the pixels were read, so a non-designated window's pixels never enter it. Each
patch keeps what it overwrote for a couple of seconds: a pre-action frame is the model rolled
back to just before the action's server timestamp, even if the app already redrew.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

HISTORY_MS = 3000


class ScreenModel:
    """Pixels are kept as the grab delivers them (BGRA), so a diff is one uint32 compare."""

    def __init__(self, *, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._pixels = np.zeros((height, width, 4), dtype=np.uint8)
        self._undo: deque[tuple[int, int, int, np.ndarray]] = deque()
        self._lock = threading.Lock()
        self.version = 0
        self.whole_since_ms: int | None = None  # see stale()

    def stale(self) -> None:
        """More pixels are kept than were read: until the next read, the model shows black where
        the page or window is, and no frame should be cut from it."""
        self.whole_since_ms = None

    def read_whole(self, server_ms: int) -> None:
        """A read succeeded at ``server_ms``: the first one after stale() covered every kept pixel
        (the leaf reads the whole screen after a layout change)."""
        if self.whole_since_ms is None:
            self.whole_since_ms = server_ms

    def patch(self, x: int, y: int, bgra: np.ndarray, keep: np.ndarray, server_ms: int) -> None:
        """Write ``bgra`` at (x, y); pixels where ``keep`` is False become black."""
        h, w = bgra.shape[:2]
        clean = bgra if keep.all() else _masked(bgra, keep)
        with self._lock:
            region = self._pixels[y:y + h, x:x + w]
            if np.array_equal(region, clean):
                return
            self._undo.append((server_ms, x, y, region.copy()))
            region[...] = clean
            self.version += 1
            while self._undo and self._undo[0][0] < server_ms - HISTORY_MS:
                self._undo.popleft()

    def snapshot(self, before_ms: int | None) -> tuple[np.ndarray, int]:
        """A copy of the screen as it was before ``before_ms`` (server time), and the version."""
        with self._lock:
            pixels = self._pixels.copy()
            version = self.version
            if before_ms is not None:
                for t, x, y, old in reversed(self._undo):
                    if t < before_ms:
                        break
                    pixels[y:y + old.shape[0], x:x + old.shape[1]] = old
        return pixels, version


def _masked(bgra: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Black where ``keep`` is False, in one pass over whole pixels."""
    words = np.ascontiguousarray(bgra).view(np.uint32)[..., 0]
    return np.where(keep, words, 0).astype(np.uint32)[..., None].view(np.uint8)
