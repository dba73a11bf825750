"""Where two screens differ and where a masked screen has content, in screen rectangles.

The frame encoder stores only what changed and the frame redactor reads again only what
changed; both must agree on the same regions, so both ask here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deskscribe.geometry import Rect, clip

TILE = 32


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
    diff = pixel_diff(prev, cur)
    if (th * tile, tw * tile) != (h, w):
        padded = np.zeros((th * tile, tw * tile), dtype=bool)
        padded[:h, :w] = diff
        diff = padded
    tiles = np.asarray(diff.reshape(th, tile, tw, tile).any(axis=(1, 3)), dtype=bool)
    spans: dict[tuple[int, int], Rect] = {}
    out: list[Rect] = []
    for ty in range(th):
        next_spans: dict[tuple[int, int], Rect] = {}
        for x0, x1 in _runs(tiles[ty], tile, w):
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


def changed_within(prev: np.ndarray, cur: np.ndarray, areas: Sequence[Rect], tile: int = TILE) -> list[Rect]:
    """:func:`changed_rects` inside ``areas`` only (the whole frame when there are none): the
    parts of a frame nobody will read need not be compared."""
    if not areas:
        return changed_rects(prev, cur, tile)
    h, w = cur.shape[:2]
    out: list[Rect] = []
    for a in areas:
        a = clip(a, w, h)
        if a.width <= 0 or a.height <= 0:
            continue
        window = (slice(a.y, a.y + a.height), slice(a.x, a.x + a.width))
        out += [Rect(r.x + a.x, r.y + a.y, r.width, r.height)
                for r in changed_rects(prev[window], cur[window], tile)]
    return out


def _runs(row: np.ndarray, tile: int, width: int) -> list[tuple[int, int]]:
    """Pixel spans [x0, x1) of consecutive changed tiles in one row of tiles."""
    runs: list[tuple[int, int]] = []
    tx, tw = 0, len(row)
    while tx < tw:
        if not row[tx]:
            tx += 1
            continue
        start = tx
        while tx < tw and row[tx]:
            tx += 1
        runs.append((start * tile, min(tx * tile, width)))
    return runs


def pixel_diff(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """HxW bool of changed pixels; for BGRA one uint32 compare per pixel."""
    if cur.shape[2] == 4:
        words = (np.ascontiguousarray(a).view(np.uint32)[..., 0] for a in (prev, cur))
        return np.asarray(next(words) != next(words), dtype=bool)
    return np.asarray(np.any(prev != cur, axis=2), dtype=bool)
