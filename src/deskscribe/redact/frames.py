"""Screenshot redaction: OCR only where the screen changed, boxes over every finding.

The redactor remembers the raw pixels of the last frame it cleaned and the boxes it drew.
For the next frame only the changed regions, widened to whole text lines, are read again;
boxes elsewhere stay as they were, because the text under them did not change. A band that
touches an old box grows to cover all of it, so a value is always read whole.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import regex

from deskscribe.capture.base import Rect
from deskscribe.capture.screen import changed_rects, content_box
from deskscribe.redact.keystrokes import Scanner
from deskscribe.redact.lines import LineReader, Ocr, window_of
from deskscribe.redact.ocr import Word

PAD_X = 400  # a changed tile at the end of a typed value: read back to its start
PAD_Y = 12
BOX_PAD = 2
FILL_BGRA = (128, 128, 128, 255)
MIN_KNOWN_LEN = 4
FOUND_CACHE = 4096


@dataclass(slots=True)
class RedactStats:
    frames: int = 0
    ocr_pixels: int = 0
    boxes: int = 0
    words_read: int = 0


def normalise(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.casefold())


class FrameRedactor:
    """Cleans full-screen arrays in capture order; one instance per session and thread."""

    def __init__(self, *, ocr: Ocr, scanner: Scanner) -> None:
        self._lines = LineReader(ocr=ocr)
        self._scanner = scanner
        self._prev: np.ndarray | None = None
        self._boxes: list[Rect] = []
        self._known: set[str] = set()
        self._found: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        self.stats = RedactStats()

    def add_known(self, values: Iterable[str]) -> None:
        """Values the keystroke stage replaced: boxed wherever they appear on screen."""
        self._known.update(n for n in map(normalise, values) if len(n) >= MIN_KNOWN_LEN)

    def redact(self, pixels: np.ndarray, windows: Sequence[Rect] = ()) -> np.ndarray:
        """``windows`` are the kept app areas: each is read on its own, because Tesseract's
        layout analysis loses text next to large black (masked) areas."""
        h, w = pixels.shape[:2]
        if self._prev is None or self._prev.shape != pixels.shape:
            box = content_box(pixels)
            self._boxes = []
            bands = [] if box is None else [box]
        else:
            bands = grow_bands(changed_rects(self._prev, pixels), self._boxes, w, h)
        self._prev = pixels
        regions, fresh = [], []
        for piece in (p for band in bands for p in _pieces(band, windows)):
            region, boxes = self._scan(pixels, piece, window_of(piece, windows))
            regions.append(region)
            fresh += boxes
        self._boxes = [b for b in self._boxes if not any(_inside(b, r) for r in regions)] + fresh
        self.stats.frames += 1
        self.stats.ocr_pixels += sum(r.width * r.height for r in regions)
        self.stats.boxes += len(fresh)
        self.stats.words_read = self._lines.words_read
        return fill(pixels, self._boxes)

    def _scan(self, pixels: np.ndarray, piece: Rect, window: Rect) -> tuple[Rect, list[Rect]]:
        """The region actually read (whole lines) and the boxes found in it."""
        region, words = self._lines.read(pixels, piece, window)
        lines = [line_text(line) for line in group_lines(words)]
        self._scan_new([text for text, _ in lines])
        boxes: list[Rect] = []
        for text, spans in lines:
            for start, end in self._found[text] + known_hits(text, self._known):
                hit = [w for s, e, w in spans if s < end and e > start]
                if hit:
                    boxes.append(_pad(union(w.box for w in hit), BOX_PAD, pixels.shape[1], pixels.shape[0]))
        return region, boxes

    def _scan_new(self, texts: Sequence[str]) -> None:
        """Scan lines not seen before in one call; a line's findings are kept with its text,
        because most lines of a frame were on screen in the previous one too."""
        new = list(dict.fromkeys(t for t in texts if t not in self._found))
        for t in texts:
            if t in self._found:
                self._found.move_to_end(t)
        if not new:
            return
        joined = "".join(new)  # each ends with a newline, so no finding spans two lines
        # OCR reads the dot in "name.surname@example.com" as a comma often enough to matter.
        hits = self._scanner.scan(re.sub(r"(?<=\w),(?=\w)", ".", joined))
        offset = 0
        for t in new:
            end = offset + len(t)
            self._found[t] = [(max(f.start, offset) - offset, min(f.end, end) - offset)
                              for f in hits if f.start < end and f.end > offset]
            offset = end
        while len(self._found) > FOUND_CACHE:
            self._found.popitem(last=False)


def grow_bands(changed: Sequence[Rect], boxes: Sequence[Rect], width: int, height: int) -> list[Rect]:
    """Changed rects widened to text lines, merged, and grown over any box they touch."""
    bands = [_clip(Rect(r.x - PAD_X, r.y - PAD_Y, r.width + 2 * PAD_X, r.height + 2 * PAD_Y),
                   width, height) for r in changed]
    merged = True
    while merged:
        merged = False
        for b in boxes:
            for i, band in enumerate(bands):
                if _overlaps(b, band) and not _inside(b, band):
                    bands[i], merged = union((band, b)), True
        out: list[Rect] = []
        for band in bands:
            for i, o in enumerate(out):
                if _overlaps(o, band):
                    out[i], merged = union((o, band)), True
                    break
            else:
                out.append(band)
        bands = out
    return bands


def group_lines(words: Sequence[Word]) -> list[list[Word]]:
    """Words whose vertical centres fall inside one another's height share a line."""
    lines: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w.box.y + w.box.height / 2, w.box.x)):
        cy = w.box.y + w.box.height / 2
        if lines:
            first = lines[-1][0].box
            if first.y <= cy <= first.y + first.height:
                lines[-1].append(w)
                continue
        lines.append([w])
    return [sorted(line, key=lambda w: w.box.x) for line in lines]


def line_text(line: Sequence[Word]) -> tuple[str, list[tuple[int, int, Word]]]:
    """The text a scanner sees for one line, and each word's (start, end, word) in it."""
    parts: list[str] = []
    spans: list[tuple[int, int, Word]] = []
    pos = 0
    for i, w in enumerate(line):
        if i and not _glued(line[i - 1], w):
            parts.append(" ")
            pos += 1
        spans.append((pos, pos + len(w.text), w))
        parts.append(w.text)
        pos += len(w.text)
    parts.append("\n")
    return "".join(parts), spans


def _glued(a: Word, b: Word) -> bool:
    """OCR splits "name.surname@example.com" at the punctuation; a gap narrower than a space
    next to an address character is no word break."""
    gap = b.box.x - (a.box.x + a.box.width)
    near = gap < 0.5 * max(a.box.height, b.box.height)
    return near and (a.text[-1] in _JOINERS or b.text[0] in _JOINERS)


_JOINERS = frozenset(".@-_/:+=")


def known_hits(text: str, known: Iterable[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` whose letters and digits spell a known value, allowing one OCR error
    (a misread, an extra or a lost character: 0/O, 1/l, "@" read as "B,") in eight. The
    ``regex`` module does the fuzzy matching in C; a Python edit-distance loop per line and
    value cost milliseconds."""
    norm, index = [], []
    for i, ch in enumerate(text.casefold()):
        if ch.isascii() and ch.isalnum():
            norm.append(ch)
            index.append(i)
    s = "".join(norm)
    hits: list[tuple[int, int]] = []
    for value in known:
        pattern = f"(?:{value}){{e<={len(value) // 8}}}"  # values are [0-9a-z] only
        for m in regex.finditer(pattern, s, flags=regex.BESTMATCH):
            if m.end() > m.start():
                hits.append((index[m.start()], index[m.end() - 1] + 1))
    return hits


def fill(pixels: np.ndarray, boxes: Iterable[Rect]) -> np.ndarray:
    out = pixels.copy()
    color = np.array(FILL_BGRA[:out.shape[2]], dtype=np.uint8)
    for b in boxes:
        out[b.y:b.y + b.height, b.x:b.x + b.width] = color
    return out


def _pieces(band: Rect, windows: Sequence[Rect]) -> list[Rect]:
    if not windows:
        return [band]
    out = [_intersect(band, w) for w in windows]
    return [r for r in out if r.width > 0 and r.height > 0]


def _intersect(a: Rect, b: Rect) -> Rect:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.width, b.x + b.width), min(a.y + a.height, b.y + b.height)
    return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def union(rects: Iterable[Rect]) -> Rect:
    rs = list(rects)
    x0, y0 = min(r.x for r in rs), min(r.y for r in rs)
    x1, y1 = max(r.x + r.width for r in rs), max(r.y + r.height for r in rs)
    return Rect(x0, y0, x1 - x0, y1 - y0)


def _clip(r: Rect, width: int, height: int) -> Rect:
    x0, y0 = max(0, r.x), max(0, r.y)
    x1, y1 = min(width, r.x + r.width), min(height, r.y + r.height)
    return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _pad(r: Rect, p: int, width: int, height: int) -> Rect:
    return _clip(Rect(r.x - p, r.y - p, r.width + 2 * p, r.height + 2 * p), width, height)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def _inside(a: Rect, b: Rect) -> bool:
    return b.x <= a.x and b.y <= a.y and a.x + a.width <= b.x + b.width and a.y + a.height <= b.y + b.height
