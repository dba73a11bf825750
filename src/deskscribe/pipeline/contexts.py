"""All context sources as one, as the pipeline asks them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from deskscribe.capture.base import WindowInfo
from deskscribe.context import ContextSource, Target, VisibleText
from deskscribe.geometry import Rect


class Contexts:
    """All sources as one: any source that says *secret* makes it so."""

    def __init__(self, *, sources: Sequence[ContextSource] = ()) -> None:
        self._sources = tuple(sources)

    def secret_now(self, windows: Iterable[WindowInfo | None]) -> bool:
        return any(s.secret_now(w) for w in windows if w is not None for s in self._sources)

    def secret_since(self, mono_ns: int) -> bool:
        return any(s.secret_since(mono_ns) for s in self._sources)

    def masked_since(self, mono_ns: int) -> bool:
        return any(s.masked_since(mono_ns) for s in self._sources)

    def prompt_possible(self, window: WindowInfo | None) -> bool:
        return window is not None and any(s.prompt_possible(window) for s in self._sources)

    def designated_page(self, window: WindowInfo | None) -> str | None:
        if window is None:
            return None
        return next((url for s in self._sources if (url := s.designated_page(window)) is not None), None)

    def page_area(self, window: WindowInfo) -> Rect | None:
        return next((r for s in self._sources if (r := s.page_area(window)) is not None), None)

    def frame_text(self, window: WindowInfo | None, mono_ns: int) -> tuple[bool, list[VisibleText]]:
        """(answered, texts): ``answered`` is False when a source that covers ``window`` could
        not describe the frame, which must then be dropped; a source that does not cover it
        may describe part of it, and where none does, OCR reads."""
        if window is None:
            return True, []
        texts: list[VisibleText] = []
        for s in self._sources:
            text = s.visible_text(window, mono_ns)
            if text is None and s.covers(window):
                return False, []
            if text is not None:
                texts.append(text)
        return True, texts

    def take_targets(self, window: WindowInfo) -> list[Target]:
        return sorted((t for s in self._sources for t in s.take_targets(window)), key=lambda t: t.mono_ns)

    def action(self, window: WindowInfo, event: str, x: int, y: int, mono_ns: int) -> None:
        for s in self._sources:
            s.action(window, event, x, y, mono_ns)

    def stop(self) -> None:
        for s in self._sources:
            s.stop()
