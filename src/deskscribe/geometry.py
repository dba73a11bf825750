"""Screen rectangles: the arithmetic capture, the frame mask and the redactors share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    width: int
    height: int

    def contains(self, px: int, py: int) -> bool:
        return self.x <= px < self.x + self.width and self.y <= py < self.y + self.height


def intersect(a: Rect, b: Rect) -> Rect:
    """The overlap of two rectangles; zero width or height when they do not meet."""
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.width, b.x + b.width), min(a.y + a.height, b.y + b.height)
    return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def union(rects: Iterable[Rect]) -> Rect:
    """The smallest rectangle holding all of ``rects`` (at least one)."""
    rs = list(rects)
    x0, y0 = min(r.x for r in rs), min(r.y for r in rs)
    x1, y1 = max(r.x + r.width for r in rs), max(r.y + r.height for r in rs)
    return Rect(x0, y0, x1 - x0, y1 - y0)


def clip(r: Rect, width: int, height: int) -> Rect:
    """``r`` within a screen of ``width`` x ``height``."""
    return intersect(r, Rect(0, 0, width, height))


def pad(r: Rect, p: int, within: Rect) -> Rect:
    """``r`` grown by ``p`` on every side, kept within ``within``."""
    return intersect(Rect(r.x - p, r.y - p, r.width + 2 * p, r.height + 2 * p), within)


def overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def inside(a: Rect, b: Rect) -> bool:
    return b.x <= a.x and b.y <= a.y and a.x + a.width <= b.x + b.width and a.y + a.height <= b.y + b.height


def subtract(a: Rect, b: Rect) -> list[Rect]:
    """What of ``a`` lies outside ``b``: up to four rectangles (above, below, left, right)."""
    cut = intersect(a, b)
    if cut.width == 0 or cut.height == 0:
        return [a]
    out = [Rect(a.x, a.y, a.width, cut.y - a.y),
           Rect(a.x, cut.y + cut.height, a.width, a.y + a.height - cut.y - cut.height),
           Rect(a.x, cut.y, cut.x - a.x, cut.height),
           Rect(cut.x + cut.width, cut.y, a.x + a.width - cut.x - cut.width, cut.height)]
    return [r for r in out if r.width > 0 and r.height > 0]


def touches(a: Rect, b: Rect) -> bool:
    """Overlapping or sharing an edge, so that reading the two as one box leaves no seam."""
    return a.x <= b.x + b.width and b.x <= a.x + a.width and a.y <= b.y + b.height and b.y <= a.y + a.height


def merge(rects: Iterable[Rect], meet: Callable[[Rect, Rect], bool]) -> tuple[list[Rect], bool]:
    """Each rectangle folded into the first kept one it meets, in one pass; and whether any
    was folded, since a fold can make two kept ones meet and the caller may want another pass."""
    out: list[Rect] = []
    folded = False
    for r in rects:
        for i, o in enumerate(out):
            if meet(o, r):
                out[i], folded = union((o, r)), True
                break
        else:
            out.append(r)
    return out, folded


def clip_merge(rects: Iterable[Rect], width: int, height: int, most: int = 8) -> list[Rect]:
    """Clip to the screen and merge into few boxes; more than ``most`` scattered ones become one."""
    clipped = [c for c in (clip(r, width, height) for r in rects) if c.width and c.height]
    merged, _ = merge(sorted(clipped, key=lambda r: (r.y, r.x)), touches)
    if len(merged) > most:
        merged = [union(merged)]
    return merged
