"""Reading screen text with a cache keyed by pixels.

Office work changes one word at a time, a scroll moves lines without changing them, and a
word in a screen font has the same pixels wherever it is drawn. So a region is cut into text
lines at blank pixel rows (lines span the whole window), lines into words at blank column
gaps as wide as a space, and a word whose pixels were read before is not read again. Only
words that really changed reach Tesseract.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from deskscribe.capture.base import Rect
from deskscribe.geometry import union
from deskscribe.redact.ocr import Word, luma

SNAP = 40  # how far a region may grow up or down to reach the blank row around a line
MARGIN = 2  # blank rows kept around a line: Tesseract misreads glyphs touching the edge
SPACE = 0.45  # a blank column run this share of the line height wide separates words
CACHE_WORDS = 4096
LETTER_SPACED = 0.25  # blank columns between most ink runs, as a share of the line height


class Ocr(Protocol):
    def words(self, pixels: np.ndarray, region: Rect) -> list[Word]: ...


def line_spans(gray: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) rows of each run of non-blank rows. A row is blank when it is one colour,
    ignoring columns that are one colour from top to bottom (borders, scroll bars)."""
    if gray.size == 0:
        return []
    varying = gray.max(axis=0) != gray.min(axis=0)
    if not varying.any():
        return []
    g = gray[:, varying]
    ink = g.max(axis=1) != g.min(axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ink.astype(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def letter_gap(gray: np.ndarray) -> int:
    """The blank columns between most letters of a letter-spaced line (a proportional font
    forced into a terminal's cells: "C a r d  6 0 1 1"), else 0. Such a line's word gaps are
    that much wider, or every narrow letter would be a word of its own."""
    cols = np.flatnonzero(gray.max(axis=0) != gray.min(axis=0))
    gaps = np.diff(cols)
    blanks = gaps[gaps > 1] - 1
    if blanks.size >= 4 and np.median(blanks) >= LETTER_SPACED * gray.shape[0]:
        return int(np.median(blanks))
    return 0


def word_spans(gray: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """(start, end) columns of ink separated by at least ``gap`` blank columns."""
    cols = np.flatnonzero(gray.max(axis=0) != gray.min(axis=0))
    if cols.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(cols) > gap)
    starts = np.concatenate(([cols[0]], cols[breaks + 1]))
    ends = np.concatenate((cols[breaks], [cols[-1]])) + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


class LineReader:
    def __init__(self, *, ocr: Ocr, cache_words: int = CACHE_WORDS) -> None:
        self._ocr = ocr
        self._cache: OrderedDict[bytes, list[tuple[str, int, int, int, int]]] = OrderedDict()
        self._limit = cache_words
        self.words_read = 0
        self.words_cached = 0

    def read(self, pixels: np.ndarray, piece: Rect, window: Rect) -> tuple[Rect, list[Word]]:
        """Words of every whole line touching ``piece``, and the region those lines cover."""
        x0, x1 = window.x, window.x + window.width
        top = max(window.y, piece.y - SNAP)
        bottom = min(window.y + window.height, piece.y + piece.height + SNAP)
        gray = luma(pixels[top:bottom, x0:x1])
        spans = [(a + top, b + top) for a, b in line_spans(gray)
                 if a + top < piece.y + piece.height and b + top > piece.y]
        if not spans:
            return Rect(x0, piece.y, x1 - x0, piece.height), []
        words: list[Word] = []
        for a, b in spans:
            a, b = max(top, a - MARGIN), min(bottom, b + MARGIN)
            words += self._line(pixels, gray[a - top:b - top], Rect(x0, a, x1 - x0, b - a))
        region_top = min(piece.y, spans[0][0])
        region_bottom = max(piece.y + piece.height, spans[-1][1])
        return Rect(x0, region_top, x1 - x0, region_bottom - region_top), words

    def _line(self, pixels: np.ndarray, gray: np.ndarray, rect: Rect) -> list[Word]:
        out: list[Word] = []
        spaced = letter_gap(gray)
        for a, b in word_spans(gray, max(3, round(SPACE * rect.height)) + spaced):
            a, b = max(0, a - MARGIN - 1), min(gray.shape[1], b + MARGIN + 1)
            out += self._word(pixels, np.ascontiguousarray(gray[:, a:b]),
                              Rect(rect.x + a, rect.y, b - a, rect.height), whole=spaced > 0)
        return out

    def _word(self, pixels: np.ndarray, gray: np.ndarray, rect: Rect, *, whole: bool) -> list[Word]:
        """The words OCR finds in one ink run; ``whole``: the run is one word, however widely
        its letters are spaced (OCR would split "p r o p . c a n a r y" at the dot)."""
        person = b"%dx%d%s" % (*gray.shape, b"w" if whole else b"")
        key = hashlib.blake2b(gray.tobytes(), digest_size=16, person=person).digest()
        hit = self._cache.get(key)
        if hit is None:
            self.words_read += 1
            found = self._ocr.words(pixels, rect)
            if whole and len(found) > 1:
                box = union(w.box for w in found)
                found = [Word("".join(w.text for w in found), box)]
            hit = [(w.text, w.box.x - rect.x, w.box.y - rect.y, w.box.width, w.box.height) for w in found]
            self._cache[key] = hit
            if len(self._cache) > self._limit:
                self._cache.popitem(last=False)
        else:
            self.words_cached += 1
            self._cache.move_to_end(key)
        return [Word(t, Rect(rect.x + x, rect.y + y, w, h)) for t, x, y, w, h in hit]


def window_of(piece: Rect, windows: Sequence[Rect]) -> Rect:
    for w in windows:
        if w.x <= piece.x and w.y <= piece.y and piece.x + piece.width <= w.x + w.width \
                and piece.y + piece.height <= w.y + w.height:
            return w
    return piece
