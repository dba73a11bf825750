"""Window titles and URLs, scanned before their focus event is written.

A title bar or an address bar shows the same text the title carries, so what is replaced here
is also handed to the frame redactor (``on_redacted``). Titles repeat (every focus change back
to a window), so each distinct one is scanned once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from deskscribe.redact.keystrokes import Scanner
from deskscribe.redact.text import replace

CACHE_TITLES = 256


class TitleCleaner:
    def __init__(self, *, scanner: Scanner, synthetic: bool,
                 on_redacted: Callable[[Sequence[str]], None] = lambda values: None) -> None:
        self._scanner = scanner
        self._synthetic = synthetic
        self._on_redacted = on_redacted
        self._seen: dict[str, str] = {}

    def clean(self, text: str | None) -> str | None:
        if not text:
            return text
        if text not in self._seen:
            red = replace(text, self._scanner.scan(text), synthetic=self._synthetic)
            if red.values:
                self._on_redacted(red.values)
            if len(self._seen) > CACHE_TITLES:
                self._seen.clear()
            self._seen[text] = red.text
        return self._seen[text]
