"""Values the keystroke stage replaced, found again in the text of a screenshot.

A value typed and redacted is known exactly, so it is boxed wherever OCR reads it, with one
error in eight allowed (0/O, 1/l, "@" read as "B,"). It is boxed too when only part of it
shows: its start at the end of a line (clipped by the window's right edge, or wrapped) or its
end at the start of a line (scrolled sideways). Matching runs for every new OCR line and new
values are rare, so each value's patterns are compiled once, when it becomes known, and a
line's hits are kept until the next value arrives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import regex

MIN_KNOWN_LEN = 4
MIN_PART = 6  # letters and digits of a value that must show before a cut-off part is boxed
FUZZY_PART = 8  # a part this long may hold one OCR error, as a whole value may in eight
CACHE_LINES = 4096
# A value longer than this (a token in a URL) is matched as its first and last MAX_VALUE
# characters: fuzzy patterns grow exponentially with length and nest a group per character.
MAX_VALUE = 48
MAX_ERRORS = 3


def normalise(s: str) -> str:
    """Letters and digits only, lower case: how a value is compared with screen text."""
    return "".join(ch.lower() for ch in s if ch.isascii() and ch.isalnum())


def alnum_index(text: str) -> tuple[str, list[int]]:
    """``text`` normalised, and for each of its characters the position in ``text``."""
    norm, index = [], []
    for i, ch in enumerate(text):
        if ch.isascii() and ch.isalnum():
            norm.append(ch.lower())
            index.append(i)
    return "".join(norm), index


@dataclass(frozen=True, slots=True)
class _Value:
    norm: str
    whole: regex.Pattern[str]
    head: regex.Pattern[str] | None  # a prefix of FUZZY_PART or more ending the text
    tail: regex.Pattern[str] | None  # a suffix of FUZZY_PART or more starting the text
    min_tail: int  # an address's end must reach into its local part: a domain is no one's
    bounds: frozenset[int]  # where the value's words meet ("canary|person|example|com")
    # A match with e errors leaves one of e + 1 pieces of the pattern intact, so a text that
    # holds none of them is passed over with a substring test instead of a fuzzy search.
    whole_seeds: tuple[str, ...]
    head_seeds: tuple[str, ...]
    tail_seeds: tuple[str, ...]

    @classmethod
    def of(cls, raw: str) -> _Value:
        v, index = alnum_index(raw)
        n = len(v)
        bounds = frozenset(k for k in range(1, n) if index[k] != index[k - 1] + 1)
        domain = len(normalise(raw.rpartition("@")[2])) if "@" in raw else 0
        min_tail = max(MIN_PART, domain + 1)
        whole = regex.compile(f"(?:{v}){{e<={min(n // 8, MAX_ERRORS)}}}", regex.BESTMATCH)  # [0-9a-z] only
        head = tail = None
        core = max(FUZZY_PART, min_tail)
        if n > FUZZY_PART:
            head = regex.compile(f"(?:{v[:FUZZY_PART]}{_opt_after(v, FUZZY_PART)}){{e<=1}}\\Z",
                                 regex.BESTMATCH)
            if n > core:
                tail = regex.compile(f"\\A(?:{_opt_before(v, n - core)}{v[n - core:]}){{e<=1}}",
                                     regex.BESTMATCH)
        return cls(v, whole, head, tail, min_tail, bounds, _pieces(v, n // 8 + 1),
                   _pieces(v[:FUZZY_PART], 2), _pieces(v[n - core:], 2))

    def head_at(self, s: str) -> int | None:
        """Where ``s`` (normalised) ends with the start of the value: MIN_PART or more of it
        exactly, or FUZZY_PART or more with one OCR error."""
        found = _exact_head(s, self.norm)
        end = s[-len(self.norm) - 1:]
        if found is None and self.head is not None and any(p in end for p in self.head_seeds):
            m = self.head.search(end)
            if m and len(end) - m.start() >= FUZZY_PART - 1:
                found = len(s) - len(end) + m.start()
        return found

    def tail_len(self, s: str) -> int | None:
        """How much of ``s`` (normalised) the end of the value starts, as for :meth:`head_at`."""
        found = _exact_tail(s, self.norm, self.min_tail)
        start = s[:len(self.norm) + 1]
        if found is None and self.tail is not None and any(p in start for p in self.tail_seeds):
            m = self.tail.match(start)
            if m and m.end() >= max(FUZZY_PART, self.min_tail):
                found = m.end()
        return found

    def one_word(self, start: int, end: int) -> bool:
        """``v[start:end]`` is one of the value's words, give or take an OCR error: read on
        its own it may be an ordinary word ("information" of "information.desk@...")."""
        if any(start + 1 < b < end - 1 for b in self.bounds):
            return False
        edge = start if start else end
        return any(k in self.bounds for k in (edge - 1, edge, edge + 1))


def _pieces(v: str, k: int) -> tuple[str, ...]:
    step = len(v) // k
    return tuple(v[i * step:(i + 1) * step if i < k - 1 else len(v)] for i in range(k))


def _opt_after(v: str, i: int) -> str:
    """Any prefix of ``v[i:]``, as nested optional groups: ``(?:c(?:d)?)?``."""
    out = ""
    for ch in reversed(v[i:]):
        out = f"(?:{ch}{out})?"
    return out


def _opt_before(v: str, j: int) -> str:
    """Any suffix of ``v[:j]``: ``(?:(?:a)?b)?``."""
    out = ""
    for ch in v[:j]:
        out = f"(?:{out}{ch})?"
    return out


class KnownValues:
    def __init__(self) -> None:
        self._values: dict[str, _Value] = {}
        self._cache: OrderedDict[tuple[str, bool, bool], list[tuple[int, int]]] = OrderedDict()

    def add(self, values: Iterable[str]) -> None:
        for whole in values:
            norm = normalise(whole)
            parts = [whole] if len(norm) <= MAX_VALUE else [norm[:MAX_VALUE], norm[-MAX_VALUE:]]
            for raw in parts:
                v = normalise(raw)
                if len(v) >= MIN_KNOWN_LEN and v not in self._values:
                    self._values[v] = _Value.of(raw)
                    self._cache.clear()  # a line read before may hold the new value

    def hits(self, text: str, *, cut_start: bool = False, cut_end: bool = False) -> list[tuple[int, int]]:
        """Spans of ``text`` that spell a known value, or a part of one at the line's start or
        end. A part that is one word of the value counts only where a window edge cuts the
        line (``cut_start``, ``cut_end``): elsewhere it is more likely that word on its own."""
        if not self._values:
            return []
        key = (text, cut_start, cut_end)
        found = self._cache.get(key)
        if found is None:
            found = self._find(text, cut_start, cut_end)
            self._cache[key] = found
            if len(self._cache) > CACHE_LINES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return found

    def _find(self, text: str, cut_start: bool, cut_end: bool) -> list[tuple[int, int]]:
        s, index = alnum_index(text)
        if not s:
            return []
        hits: list[tuple[int, int]] = []
        for v in self._values.values():
            if any(p in s for p in v.whole_seeds):
                hits += [(index[m.start()], index[m.end() - 1] + 1)
                         for m in v.whole.finditer(s) if m.end() > m.start()]
            head = v.head_at(s)  # the value's start ends the line: cut there or wrapped
            if head is not None and _word_starts(text, index[head]) \
                    and (cut_end or not v.one_word(0, len(s) - head)):
                hits.append((index[head], index[-1] + 1))
            tail = v.tail_len(s)  # its end starts the line: scrolled sideways or wrapped
            if tail is not None and _word_ends(text, index[tail - 1] + 1) \
                    and (cut_start or not v.one_word(len(v.norm) - tail, len(v.norm))):
                hits.append((index[0], index[tail - 1] + 1))
        return hits


def _exact_head(s: str, v: str) -> int | None:
    """Where ``s`` ends with the start of ``v`` (MIN_PART or more of it, not all)."""
    seed = v[:MIN_PART]
    p = s.find(seed, max(0, len(s) - len(v) + 1))
    while p != -1:
        if v.startswith(s[p:]):
            return p
        p = s.find(seed, p + 1)
    return None


def _exact_tail(s: str, v: str, least: int) -> int | None:
    """How much of the end of ``v`` starts ``s`` (``least`` or more of it, not all)."""
    if len(s) < least:
        return None
    seed = s[:least]
    q = v.find(seed, 1)
    while q != -1:
        if s.startswith(v[q:]):
            return len(v) - q
        q = v.find(seed, q + 1)
    return None


def _word_starts(text: str, i: int) -> bool:
    return i == 0 or not text[i - 1].isalnum()


def _word_ends(text: str, i: int) -> bool:
    return i >= len(text) or not text[i].isalnum()


def known_hits(text: str, known: Iterable[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` that spell one of ``known`` (raw values), whole or in part at a line
    edge that a window edge cuts."""
    values = KnownValues()
    values.add(known)
    return values.hits(text, cut_start=True, cut_end=True)
