"""Undo the OCR misreadings that hide a value from the detectors, before a line is scanned.

Each rule swaps one character for one, so a finding's offsets still point at the words OCR
returned. Seen in real screens: the dot of an address read as a comma, a narrow "l" as "|",
an "@" in a screen font as "G" or "©", a "0" inside a key as "@", and the underscores of a key
prefix ("sk_live_") lost to the line below.
"""

from __future__ import annotations

import regex

# The ``regex`` module: the lookbehinds below have variable width, which ``re`` refuses.
_RULES: list[tuple[regex.Pattern[str], str]] = [
    (regex.compile(r"(?<=\w),(?=\w)"), "."),
    (regex.compile(r"(?<=\w)\|(?=\w)"), "l"),
    # "amber.canaryGambermail.example.com": a capital inside a dotted name, before a domain
    (regex.compile(r"(?<=[a-z0-9][.][a-z0-9]{1,64})[G©®](?=[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b)"), "@"),
    # "51DarkCanaryQw8rTu@PLm": an "@" with no domain after it, inside a long run
    (regex.compile(r"(?<=[A-Za-z0-9]{8})@(?=[A-Za-z0-9]{2,}(?![\w.@-]))"), "0"),
    (regex.compile(r"\b([sr]k) (live|test) (?=\w)"), r"\1_\2_"),
    (regex.compile(r"\b(gh[pousr]) (?=\w{20})"), r"\1_"),
    # "ambermail.example. com": the space moves behind the top-level domain
    # (only after a dotted name and before a space or the end: "Thanks. ana@x.io" stays)
    (regex.compile(r"(?<=[\w-]+\.[\w-]+)\. ([a-z]{2,6})(?=\s|$|[,;)])"), r".\1 "),
]
# A card's shape without its checksum: one misread digit breaks the Luhn check the scanner
# needs, and four groups of four digits on screen are a card far more often than not.
_CARD_SHAPE = regex.compile(r"(?<![\d-])\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{1,4}(?![\d-])")


def undo_confusions(text: str) -> str:
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def card_shapes(text: str) -> list[tuple[int, int]]:
    """Spans of card-shaped digit groups in OCR text, checksum or not."""
    return [m.span() for m in _CARD_SHAPE.finditer(text) if not _years(m.group())]


def _years(digits: str) -> bool:
    """A row of years ("2021 2022 2023 2024") is a table heading, not a card."""
    return all(g.startswith(("19", "20")) for g in regex.split(r"[ -]", digits))
