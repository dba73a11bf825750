"""The page's report turned into boxes: per run, through a cache, exact to the word."""

from __future__ import annotations

from typing import Any

from deskscribe.browser.page import ScanCache, page_text
from deskscribe.geometry import Rect
from deskscribe.redact.text import Finding, TextScanner


def run(text: str, y: int) -> dict[str, Any]:
    words, x, start = [], 10, 0
    for w in text.split(" "):
        words.append([start, start + len(w), x, y, 8 * len(w), 14])
        x, start = x + 8 * len(w) + 8, start + len(w) + 1
    return {"text": text, "words": words}


def reply(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "type": "text", "runs": list(runs), "masks": [], "opaque": [], "truncated": False}


class Counting:
    def __init__(self) -> None:
        self.inner = TextScanner()
        self.texts: list[str] = []

    def scan(self, text: str) -> list[Finding]:
        self.texts.append(text)
        return self.inner.scan(text)


def test_findings_box_exactly_the_words_they_cover() -> None:
    page = page_text(reply(run("write to jane.doe@example.com today", 40)), url=None)
    assert page is not None
    (box,) = page.boxes(TextScanner())
    assert box == Rect(10 + 8 * 9 - 2, 38, 8 * 20 + 4, 18)  # the e-mail's word, padded 2 px


def test_each_run_is_scanned_alone_and_a_repeated_run_is_not_scanned_again() -> None:
    counting = Counting()
    cache = ScanCache(scanner=counting)
    first = page_text(reply(run("invoice 4411", 40), run("mail jane.doe@example.com", 60)), url=None)
    scrolled = page_text(reply(run("mail jane.doe@example.com", 20), run("new row", 40)), url=None)
    assert first is not None and scrolled is not None
    assert len(first.boxes(cache)) == 1
    assert [b.y for b in scrolled.boxes(cache)] == [18]  # found again, at its new place
    assert counting.texts == ["invoice 4411", "mail jane.doe@example.com", "new row"]
