"""The in-memory screen model and the encoder that turns snapshots into stored frames.

The model is patched only where the display reported damage, already masked with the layout
valid when the pixels were read, so a non-designated window's pixels never enter it. Each
patch keeps what it overwrote for a couple of seconds: a pre-action frame is the model rolled
back to just before the action's server timestamp, even if the app already redrew.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Iterable

import numpy as np
from PIL import Image

from deskscribe.capture.base import Rect
from deskscribe.store import FramePart, FrameRecord

HISTORY_MS = 3000
TILE = 32
KEYFRAME_CHANGED_SHARE = 0.5
KEYFRAME_EVERY = 200


class ScreenModel:
    """Pixels are kept as the grab delivers them (BGRA), so a diff is one uint32 compare."""

    def __init__(self, *, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._pixels = np.zeros((height, width, 4), dtype=np.uint8)
        self._undo: deque[tuple[int, int, int, np.ndarray]] = deque()
        self._lock = threading.Lock()
        self.version = 0

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
    words = np.ascontiguousarray(bgra).view(np.uint32)[..., 0]
    return np.where(keep, words, 0).astype(np.uint32)[..., None].view(np.uint8)


def content_box(pixels: np.ndarray) -> Rect | None:
    """Bounding box of the non-black pixels (everything outside designated windows is black)."""
    if pixels.shape[2] == 4:  # ignore the X padding byte
        nonzero = (np.ascontiguousarray(pixels).view(np.uint32)[..., 0] & 0xFFFFFF) != 0
    else:
        nonzero = pixels.any(axis=2)
    rows, cols = np.flatnonzero(nonzero.any(axis=1)), np.flatnonzero(nonzero.any(axis=0))
    if rows.size == 0:
        return None
    return Rect(int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def changed_rects(prev: np.ndarray, cur: np.ndarray, tile: int = TILE) -> list[Rect]:
    """Rectangles (tile-aligned) covering every changed pixel; rows of tiles merged."""
    h, w = cur.shape[:2]
    th, tw = -(-h // tile), -(-w // tile)
    diff = _pixel_diff(prev, cur)
    if (th * tile, tw * tile) != (h, w):
        padded = np.zeros((th * tile, tw * tile), dtype=bool)
        padded[:h, :w] = diff
        diff = padded
    tiles = np.asarray(diff.reshape(th, tile, tw, tile).any(axis=(1, 3)), dtype=bool)
    spans: dict[tuple[int, int], Rect] = {}
    out: list[Rect] = []
    for ty in range(th):
        row, tx = tiles[ty], 0
        next_spans: dict[tuple[int, int], Rect] = {}
        while tx < tw:
            if not row[tx]:
                tx += 1
                continue
            start = tx
            while tx < tw and row[tx]:
                tx += 1
            x0, x1 = start * tile, min(tx * tile, w)
            y0, y1 = ty * tile, min((ty + 1) * tile, h)
            above = spans.pop((x0, x1), None)
            if above is not None:  # extend the same column span downwards
                next_spans[(x0, x1)] = Rect(x0, above.y, x1 - x0, y1 - above.y)
            else:
                next_spans[(x0, x1)] = Rect(x0, y0, x1 - x0, y1 - y0)
        out.extend(spans.values())
        spans = next_spans
    out.extend(spans.values())
    return out


def _pixel_diff(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """HxW bool of changed pixels; for BGRA one uint32 compare per pixel."""
    if cur.shape[2] == 4:
        words = (np.ascontiguousarray(a).view(np.uint32)[..., 0] for a in (prev, cur))
        return np.asarray(next(words) != next(words), dtype=bool)
    return np.asarray(np.any(prev != cur, axis=2), dtype=bool)


def to_image(pixels: np.ndarray) -> Image.Image:
    """A BGRA (screen model) or RGB array as an RGB image."""
    h, w = pixels.shape[:2]
    if pixels.shape[2] == 4:
        return Image.frombuffer("RGB", (w, h), np.ascontiguousarray(pixels).tobytes(), "raw", "BGRX", 0, 1)
    return Image.fromarray(pixels, "RGB")


def encode_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    to_image(pixels).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class FrameEncoder:
    """Keyframe first, then lossless crops of what changed since the previous stored frame."""

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None
        self._keyframe_id: int | None = None
        self._since_key = 0

    def encode(self, frame_id: int, t_ns: int, pixels: np.ndarray) -> FrameRecord:
        h, w = pixels.shape[:2]
        rects = None if self._prev is None or self._prev.shape != pixels.shape else changed_rects(
            self._prev, pixels)
        changed = sum(r.width * r.height for r in rects) if rects is not None else h * w
        self._prev = pixels
        if (rects is None or self._keyframe_id is None or changed > KEYFRAME_CHANGED_SHARE * h * w
                or self._since_key >= KEYFRAME_EVERY):
            self._keyframe_id, self._since_key = frame_id, 0
            box = content_box(pixels)  # a keyframe is black except where it has content
            parts = () if box is None else (_crop(pixels, box),)
            return FrameRecord(frame_id, t_ns, None, (w, h), parts)
        self._since_key += 1
        return FrameRecord(frame_id, t_ns, self._keyframe_id, (w, h), tuple(_crop(pixels, r) for r in rects))


def _crop(pixels: np.ndarray, r: Rect) -> FramePart:
    return FramePart(r.x, r.y, r.width, r.height, encode_png(pixels[r.y:r.y + r.height, r.x:r.x + r.width]))


def rebuild(chain: Iterable[FrameRecord]) -> Image.Image:
    """The screenshot a keyframe chain ends on."""
    canvas: Image.Image | None = None
    for rec in chain:
        if canvas is None:
            canvas = Image.new("RGB", rec.size)
        for part in rec.parts:
            canvas.paste(Image.open(io.BytesIO(part.png)).convert("RGB"), (part.x, part.y))
    if canvas is None:
        raise ValueError("empty frame chain")
    return canvas
