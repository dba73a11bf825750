"""Context sources: what is *inside* a window, asked by the pipeline without knowing who answers.

The X11 leaf knows windows and pixels; a terminal's pty, the accessibility bus and (later) a
browser extension know what the window holds. Each is a :class:`ContextSource`. A source can
only narrow what is captured or describe it: every question is phrased so that "no" or "I do
not know" keeps the capture as the policy alone would have it, and every "yes" removes
something (a burst becomes a secret, a frame waits for a prompt check).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from deskscribe.capture.base import WindowInfo


class ContextSource(Protocol):
    def secret_now(self, window: WindowInfo) -> bool:
        """Keys typed into ``window`` at this moment are a secret (a terminal reading with echo
        off). Asked as each key batch arrives, since the prompt may be gone by the time the
        burst is scanned; it must answer in microseconds."""
        ...

    def secret_since(self, mono_ns: int) -> bool:
        """A secret field had keyboard focus at some moment after ``mono_ns`` (a password
        field reported by the accessibility bus). Asked when a burst is scanned."""
        ...

    def prompt_possible(self, window: WindowInfo) -> bool:
        """A program that may print a password prompt holds ``window`` (a terminal handed to
        ssh or a script): the screen must be read before the next burst is trusted."""
        ...

    def stop(self) -> None: ...


class NoContext:
    """A source that knows nothing; the neutral base for sources that answer some questions."""

    def secret_now(self, window: WindowInfo) -> bool:
        return False

    def secret_since(self, mono_ns: int) -> bool:
        return False

    def prompt_possible(self, window: WindowInfo) -> bool:
        return False

    def stop(self) -> None:
        pass


class Contexts:
    """All sources as one: any source that says *secret* makes it so."""

    def __init__(self, *, sources: Sequence[ContextSource] = ()) -> None:
        self._sources = tuple(sources)

    def secret_now(self, windows: Iterable[WindowInfo | None]) -> bool:
        return any(s.secret_now(w) for w in windows if w is not None for s in self._sources)

    def secret_since(self, mono_ns: int) -> bool:
        return any(s.secret_since(mono_ns) for s in self._sources)

    def prompt_possible(self, window: WindowInfo | None) -> bool:
        return window is not None and any(s.prompt_possible(window) for s in self._sources)

    def stop(self) -> None:
        for s in self._sources:
            s.stop()
