"""The page's own text, with screen rectangles per word, turned into redaction boxes.

The extension reports the visible text of a designated page as runs of text with a rectangle
for each word (``Range.getClientRects``). Scanning that text with the same detectors as typed
text and boxing the words a finding covers gives exact boxes without OCR. Masked elements come
as rectangles that are blacked out whole. What the page cannot describe as text (images,
canvas, video) comes as ``opaque`` rectangles where OCR still reads the pixels; a report
without them leaves OCR to read the whole page, as if no report had come.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deskscribe.geometry import Rect
from deskscribe.redact.keystrokes import Scanner
from deskscribe.redact.text import Finding

MAX_WORDS = 5000
MAX_CHARS = 20_000
PAD_PX = 2


@dataclass(frozen=True, slots=True)
class Word:
    start: int
    end: int
    rect: Rect


@dataclass(frozen=True, slots=True)
class PageText:
    url: str | None
    text: str  # every run, joined by newlines: what the detectors read
    words: tuple[Word, ...]  # offsets into ``text``
    masks: tuple[Rect, ...]
    opaque: tuple[Rect, ...] | None  # None: the page did not say where its images are
    truncated: bool
    runs: tuple[tuple[int, int], ...] = ()  # (start, end) of each run in ``text``

    def boxes(self, scanner: Scanner) -> list[Rect]:
        """Rectangles of every word a finding touches, padded a little for antialiasing. Each
        run (one block of the page) is scanned on its own, so a :class:`ScanCache` serves the
        runs a scrolled or redrawn page shows again."""
        found = [(start + f.start, start + f.end) for start, end in self.runs or ((0, len(self.text)),)
                 for f in scanner.scan(self.text[start:end])]
        out: list[Rect] = []
        for f_start, f_end in found:
            out += [_pad(w.rect) for w in self.words if w.start < f_end and w.end > f_start]
        return out


class ScanCache:
    """A scanner that remembers its answers: a page shows mostly the runs it showed a frame
    ago, and scanning is most of what a described frame costs."""

    def __init__(self, *, scanner: Scanner, size: int = 4096) -> None:
        self._scanner = scanner
        self._size = size
        self._seen: dict[str, list[Finding]] = {}

    def scan(self, text: str) -> list[Finding]:
        hit = self._seen.get(text)
        if hit is None:
            hit = self._seen[text] = list(self._scanner.scan(text))
            if len(self._seen) > self._size:
                self._seen.pop(next(iter(self._seen)))
        return hit


def _pad(r: Rect) -> Rect:
    return Rect(r.x - PAD_PX, r.y - PAD_PX, r.width + 2 * PAD_PX, r.height + 2 * PAD_PX)


def _rect(v: Any) -> Rect | None:
    if not isinstance(v, list | tuple) or len(v) != 4:
        return None
    if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in v):
        return None
    x, y, w, h = v
    if w <= 0 or h <= 0:
        return None
    left, top = math.floor(x), math.floor(y)
    return Rect(left, top, math.ceil(x + w) - left, math.ceil(y + h) - top)


def _rects(v: Any) -> tuple[Rect, ...] | None:
    if not isinstance(v, list):
        return None
    rects = [_rect(r) for r in v[:MAX_WORDS]]
    return tuple(r for r in rects if r is not None)


def _runs(runs: Sequence[Any]) -> tuple[str, tuple[Word, ...], bool, tuple[tuple[int, int], ...]]:
    parts: list[str] = []
    spans_out: list[tuple[int, int]] = []
    words: list[Word] = []
    offset, cut = 0, False
    for run in runs:
        text = run.get("text") if isinstance(run, dict) else None
        spans = run.get("words") if isinstance(run, dict) else None
        if not isinstance(text, str) or not isinstance(spans, list):
            cut = True
            continue
        if offset + len(text) > MAX_CHARS or len(words) + len(spans) > MAX_WORDS:
            cut = True
            break
        for span in spans:
            if not isinstance(span, list) or len(span) != 6 or not all(isinstance(i, int) for i in span[:2]):
                cut = True
                continue
            start, end = span[0], span[1]
            rect = _rect(span[2:])
            if rect is None or not 0 <= start < end <= len(text):
                cut = True
                continue
            words.append(Word(offset + start, offset + end, rect))
        parts.append(text)
        spans_out.append((offset, offset + len(text)))
        offset += len(text) + 1
    return "\n".join(parts), tuple(words), cut, tuple(spans_out)


def page_text(reply: dict[str, Any], *, url: str | None) -> PageText | None:
    """The checked report, or None when it is not a usable answer (the frame is then dropped)."""
    runs, masks = reply.get("runs"), _rects(reply.get("masks"))
    if not isinstance(runs, list) or masks is None:
        return None
    text, words, cut, spans = _runs(runs)
    opaque = _rects(reply.get("opaque")) if "opaque" in reply else None
    return PageText(url=url, text=text, words=words, masks=masks, opaque=opaque,
                    truncated=cut or reply.get("truncated") is not False, runs=spans)
