"""Screenshot redaction: OCR only where the screen changed, boxes over every finding.

The redactor remembers the raw pixels of the last frame it cleaned and the boxes it drew.
For the next frame only the changed regions, widened to whole text lines, are read again;
boxes elsewhere stay as they were, because the text under them did not change. A band that
touches an old box grows to cover all of it, so a value is always read whole.

A value need not show whole to be personal: a window edge may clip it and a line may wrap it.
Lines whose first or last word reaches the window's edge are also checked for the shapes of
cut-off values, and the end of each line is read together with the start of the next.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from deskscribe.capture.base import Rect
from deskscribe.geometry import clip, inside, intersect, merge, overlaps, pad, union
from deskscribe.pixel_diff import changed_within, content_box
from deskscribe.redact.confusions import card_shapes, undo_confusions
from deskscribe.redact.keystrokes import Scanner
from deskscribe.redact.known import KnownValues
from deskscribe.redact.lines import LineReader, Ocr, line_spans, window_of
from deskscribe.redact.ocr import Word, luma
from deskscribe.redact.text import Finding, partial_findings

PAD_X = 400  # a changed tile at the end of a typed value: read back to its start
PAD_Y = 12
BOX_PAD = 2
FILL_BGRA = (128, 128, 128, 255)
FOUND_CACHE = 4096
# A line is cut where its first or last word reaches the window's edge. Text is clipped at the
# text area, which a border, a margin or a classic scroll bar (14-17 px at 96 dpi; GTK's overlay
# bars take none) keeps from the window's edge, and the clip may fall between two glyphs, so
# the last ink can end a glyph cell short of it. Both grow with the font: hence two and a half
# line heights plus a couple of pixels. A generous test costs little, because only the shapes
# of cut-off values apply at an edge, and no ordinary word has one.
EDGE_LINES = 2.5
EDGE_PX = 3
# The ends of two lines are read together, at most this many characters of each (whole words):
# enough for a card number's groups or an address split anywhere.
WRAP_CHARS = 24


@dataclass(slots=True)
class RedactStats:
    frames: int = 0
    ocr_pixels: int = 0
    boxes: int = 0
    words_read: int = 0


class FrameRedactor:
    """Cleans full-screen arrays in capture order; one instance per session and thread."""

    def __init__(self, *, ocr: Ocr, scanner: Scanner, known: Iterable[str] = ()) -> None:
        """``known``: values boxed from the first frame on, misread or cut off (the policy's
        deny-listed names: the scanner's exact match misses "Osuin" for "Oswin")."""
        self._lines = LineReader(ocr=ocr)
        self._scanner = scanner
        self._prev: np.ndarray | None = None
        self._boxes: list[Rect] = []
        self._known = KnownValues()
        self._known.add(known)
        self._found: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        self.stats = RedactStats()

    @property
    def ocr_pixels(self) -> int:
        return self.stats.ocr_pixels

    def add_known(self, values: Iterable[str]) -> None:
        """Values the keystroke stage replaced: boxed wherever they, or parts of them cut off
        by an edge or a line break, appear on screen."""
        self._known.add(values)

    def last_line(self, pixels: np.ndarray, window: Rect) -> str:
        """The text of ``window``'s bottom-most line: in a terminal, where the cursor waits.
        Read through the same word cache, so a prompt already read costs no OCR."""
        h, w = pixels.shape[:2]
        win = clip(window, w, h)
        gray = luma(pixels[win.y:win.y + win.height, win.x:win.x + win.width])
        spans = line_spans(gray)
        heights = sorted(b - a for a, b in spans)
        usual = heights[len(heights) // 2] if heights else 0
        spans = [(a, b) for a, b in spans if 2 * (b - a) >= usual]  # not an underline cursor's row
        if not spans:
            return ""
        top, bottom = spans[-1]
        if bottom - top > 1.6 * usual:  # descenders joined it to the line above: keep the last
            top = bottom - usual - 1
        right = win.x + _before_block(gray[top:bottom])  # a block cursor reads as letters
        line = Rect(win.x, win.y + top, right - win.x, bottom - top)
        _, words = self._lines.read(pixels, line, Rect(win.x, win.y, right - win.x, win.height))
        lines = group_lines(words)
        return line_text(lines[-1])[0].strip() if lines else ""

    def redact(self, pixels: np.ndarray, windows: Sequence[Rect] = ()) -> np.ndarray:
        """``windows`` are the kept app areas: each is read on its own, because Tesseract's
        layout analysis loses text next to large black (masked) areas."""
        h, w = pixels.shape[:2]
        if self._prev is None or self._prev.shape != pixels.shape:
            box = content_box(pixels)
            self._boxes = []
            bands = [] if box is None else [box]
        else:
            bands = grow_bands(changed_within(self._prev, pixels, windows), self._boxes, w, h)
        self._prev = pixels
        regions, fresh = [], []
        for piece in (p for band in bands for p in _pieces(band, windows)):
            region, boxes = self._scan(pixels, piece, window_of(piece, windows))
            regions.append(region)
            fresh += boxes
        self._boxes = [b for b in self._boxes if not any(inside(b, r) for r in regions)] + fresh
        self.stats.frames += 1
        self.stats.ocr_pixels += sum(r.width * r.height for r in regions)
        self.stats.boxes += len(fresh)
        self.stats.words_read = self._lines.words_read
        return fill(pixels, self._boxes)

    def _scan(self, pixels: np.ndarray, piece: Rect, window: Rect) -> tuple[Rect, list[Rect]]:
        """The region actually read (whole lines) and the boxes found in it."""
        region, words = self._lines.read(pixels, piece, window)
        h, w = pixels.shape[:2]
        edge = clip(window, w, h)
        grouped = group_lines(words)
        lines = [line_text(line) for line in grouped]
        cuts = [cut_at(line, edge) for line in grouped]
        joins = [j for i, (a, b) in enumerate(pairwise(lines)) if (j := join_lines(a, b, full=cuts[i][1]))]
        self._scan_new([text for text, _ in lines] + [j.text for j in joins if j.scan])
        boxes: list[Rect] = []
        for (text, spans), (cut_start, cut_end) in zip(lines, cuts, strict=True):
            found = self._found[text] + self._known.hits(text, cut_start=cut_start, cut_end=cut_end)
            if cut_start or cut_end:
                found += [(f.start, f.end) for f in partial_findings(text, start=cut_start, end=cut_end)]
            boxes += _boxes(found, spans, edge)
        for j in joins:  # only what runs across the break: each line alone was done above
            found = (self._found[j.text] if j.scan else []) + self._known.hits(j.text)
            across = [(s, e) for s, e in found if s < j.at < e]
            boxes += _boxes(across, [sp for sp in j.spans if sp[0] < j.at], edge)
            boxes += _boxes(across, [sp for sp in j.spans if sp[0] >= j.at], edge)
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
        text = undo_confusions(joined)
        hits = self._scanner.scan(text) + [Finding(a, b, "CREDIT_CARD") for a, b in card_shapes(text)]
        offset = 0
        for t in new:
            end = offset + len(t)
            self._found[t] = [(max(f.start, offset) - offset, min(f.end, end) - offset)
                              for f in hits if f.start < end and f.end > offset]
            offset = end
        while len(self._found) > FOUND_CACHE:
            self._found.popitem(last=False)


def _before_block(gray: np.ndarray) -> int:
    """Columns of a text line up to its last ink run, if that run is a solid block (a
    terminal's cursor); else all of them."""
    ink = gray != np.bincount(gray.ravel(), minlength=256).argmax()
    cols = np.flatnonzero(ink.any(axis=0))
    if cols.size == 0:
        return int(gray.shape[1])
    start = int(cols[-1])
    while start > 0 and ink[:, start - 1].any():
        start -= 1
    block = ink[:, start:int(cols[-1]) + 1]
    rows = np.flatnonzero(block.any(axis=1))
    solid = block[rows[0]:rows[-1] + 1].mean() >= 0.85 and block.shape[1] >= 3
    return start if solid else int(gray.shape[1])


def grow_bands(changed: Sequence[Rect], boxes: Sequence[Rect], width: int, height: int) -> list[Rect]:
    """Changed rects widened to text lines, merged, and grown over any box they touch."""
    bands = [clip(Rect(r.x - PAD_X, r.y - PAD_Y, r.width + 2 * PAD_X, r.height + 2 * PAD_Y),
                   width, height) for r in changed]
    merged = True
    while merged:
        merged = False
        for b in boxes:
            for i, band in enumerate(bands):
                if overlaps(b, band) and not inside(b, band):
                    bands[i], merged = union((band, b)), True
        bands, folded = merge(bands, overlaps)
        merged = merged or folded
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


def cut_at(line: Sequence[Word], edge: Rect) -> tuple[bool, bool]:
    """Whether the line's first / last word reaches the left / right edge of ``edge``."""
    slack = EDGE_PX + EDGE_LINES * max(w.box.height for w in line)
    first, last = line[0].box, line[-1].box
    return first.x - edge.x <= slack, edge.x + edge.width - (last.x + last.width) <= slack


@dataclass(frozen=True, slots=True)
class Join:
    """The end of one line and the start of the next, read as one text; ``at`` is where the
    second line begins in it. ``scan`` is false where nothing the scanner finds could cross
    the break, so only known values are looked for: scanning is the costly part."""

    text: str
    spans: list[tuple[int, int, Word]]
    at: int
    scan: bool


def join_lines(upper: tuple[str, list[tuple[int, int, Word]]],
               lower: tuple[str, list[tuple[int, int, Word]]], *, full: bool) -> Join | None:
    """The last words of ``upper`` and the first words of ``lower``, when the lines are
    adjacent, read as one text: a value wrapped over two lines reads whole. An app wraps a
    line at a space unless a word is longer than the line, and a terminal wraps at its last
    column: only a ``full`` line (its end at the window's edge) may have split a word, so only
    there are the parts glued; elsewhere a space keeps "INV-41097" and "624.69" two numbers."""
    (u_text, u_spans), (l_text, l_spans) = upper, lower
    a_bottom = max(w.box.y + w.box.height for _, _, w in u_spans)
    b_top = min(w.box.y for _, _, w in l_spans)
    if b_top - a_bottom >= max(w.box.height for _, _, w in (*u_spans, *l_spans)):
        return None  # a blank line or more between them: a new paragraph, not a wrap
    tail, head = _edge_words(u_spans, from_end=True), _edge_words(l_spans, from_end=False)
    t0, h0 = tail[0][0], head[0][0]
    first, second = u_text[t0:tail[-1][1]], l_text[h0:head[-1][1]]
    if full:  # a split word: an address, a card or a token may run on
        scan = any(ch == "@" or ch.isdigit() for ch in first + second)
    else:  # a break at a space: groups of digits or a capitalised name may run on
        scan = (first[-1].isdigit() and second[0].isdigit()) or (
            first[-1].isalpha() and first.split()[-1][0].isupper() and second[0].isupper())
        first += " "
    at = len(first)
    spans = [(s - t0, e - t0, w) for s, e, w in tail] + [(s - h0 + at, e - h0 + at, w) for s, e, w in head]
    return Join(first + second + "\n", spans, at, scan)


def _edge_words(spans: Sequence[tuple[int, int, Word]], *, from_end: bool) -> list[tuple[int, int, Word]]:
    """Whole words at one end of a line, up to WRAP_CHARS of text: at least one word, and
    pieces OCR split at punctuation ("name." "surname@") stay together."""
    seq = list(reversed(spans)) if from_end else list(spans)
    out = [seq[0]]
    for prev, cur in pairwise(seq):
        glued = cur[1] == prev[0] if from_end else cur[0] == prev[1]
        reach = seq[0][1] - cur[0] if from_end else cur[1] - seq[0][0]
        if not glued and reach > WRAP_CHARS:
            break
        out.append(cur)
    return out[::-1] if from_end else out


def _boxes(found: Iterable[tuple[int, int]], spans: Sequence[tuple[int, int, Word]],
           window: Rect) -> list[Rect]:
    """One box per finding over the words it touches, kept inside the window: a box that
    reached past it (a value cut at its edge) would never lie inside a region read again, so
    it would stay after the text under it had gone."""
    out = []
    for start, end in found:
        hit = [w for s, e, w in spans if s < end and e > start]
        if hit:
            out.append(pad(union(w.box for w in hit), BOX_PAD, window))
    return out


def fill(pixels: np.ndarray, boxes: Iterable[Rect]) -> np.ndarray:
    out = pixels.copy()
    color = np.array(FILL_BGRA[:out.shape[2]], dtype=np.uint8)
    for b in boxes:
        out[b.y:b.y + b.height, b.x:b.x + b.width] = color
    return out


def _pieces(band: Rect, windows: Sequence[Rect]) -> list[Rect]:
    if not windows:
        return [band]
    out = [intersect(band, w) for w in windows]
    return [r for r in out if r.width > 0 and r.height > 0]
