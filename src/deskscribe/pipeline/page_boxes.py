"""A frame described by a context source: its findings boxed, its masks black, and OCR left
only where the source could not describe the pixels (images, canvas) or nothing described."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from deskscribe.context import VisibleText
from deskscribe.geometry import Rect, intersect, subtract
from deskscribe.redact.frames import fill

# The redactor reads every region it is given, or the whole frame when given none; this
# empty rectangle says "nothing here needs reading" without meaning "read everything".
NOTHING_TO_READ = Rect(0, 0, 0, 0)


def _within(rects: Sequence[Rect], region: Rect) -> list[Rect]:
    out = [intersect(r, region) for r in rects]
    return [r for r in out if r.width > 0 and r.height > 0]


def uncovered(texts: Sequence[VisibleText], windows: Sequence[tuple[Rect, bool]], own: Rect
              ) -> list[VisibleText]:
    """The texts as described, except where another window lies above the described window
    over a text's region (a tooltip, a pop-up, another app): the source did not see that, so
    OCR reads the whole region, and the source's boxes still apply."""
    rects = [r for r, _ in windows]
    above = rects[rects.index(own) + 1:] if own in rects else rects
    return [replace(t, opaque=None) if _within([r for r in above if r != t.region], t.region) else t
            for t in texts]  # a page's own area is laid out as a window of its own: not a cover


def apply_texts(pixels: np.ndarray, kept: Sequence[Rect], texts: Sequence[VisibleText]
                ) -> tuple[np.ndarray, tuple[Rect, ...]]:
    """(pixels with the sources' boxes and masks applied, the parts OCR must still read)."""
    out = fill(pixels, [b for t in texts for b in _within(t.boxes, t.region)])
    for t in texts:
        for m in _within(t.masks, t.region):
            out[m.y:m.y + m.height, m.x:m.x + m.width] = 0
    read: list[Rect] = []
    for rect in kept:
        pieces = [rect]
        for t in texts:
            pieces = [p for piece in pieces for p in subtract(piece, t.region)]
        read += pieces
    for t in texts:
        read += [t.region] if t.opaque is None else _within(t.opaque, t.region)
    return out, tuple(read) or (NOTHING_TO_READ,)
