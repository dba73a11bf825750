"""What the capture threads and the control socket hand the pipeline thread, in arrival order.

Leaf callbacks and control requests only append here; one pipeline thread takes the items
out. The inbox is bounded: under a flood the newest input is dropped and counted, never the
memory of the machine exhausted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from deskscribe.capture.base import RawInput, WindowInfo

INBOX_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class InputBatch:
    """Raw input as the leaf delivered it, with the terminal echo answer given on arrival.

    Keys up to ``last_enter`` were typed before what ``secret`` describes began (a command
    ending in Enter that starts a prompt), so they take the answer of the batch before."""

    batch: list[RawInput]
    secret: bool = False
    secret_before: bool = False
    last_enter: int = -1

    def secret_of(self, index: int) -> bool:
        return self.secret_before if index <= self.last_enter else self.secret


@dataclass(frozen=True, slots=True)
class FocusChange:
    mono_ns: int
    window: WindowInfo | None


@dataclass(frozen=True, slots=True)
class LayoutChange:
    """What may be kept on screen changed (a window mapped, a page area laid out): whether
    anything designated is still visible is decided again without waiting for input."""

    mono_ns: int


@dataclass(frozen=True, slots=True)
class ContextChange:
    """A context source changed its answer about the window in front (a browser tab switched
    or navigated): the gate decides again without a focus change."""


@dataclass(frozen=True, slots=True)
class Marker:
    """A marker from outside capture (task boundaries, withdrawal), stored in input order."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class FramesPaused:
    paused: bool


Item = InputBatch | FocusChange | LayoutChange | ContextChange | Marker | Pause | Resume | FramesPaused


class Inbox:
    def __init__(self, *, limit: int = INBOX_LIMIT) -> None:
        self._items: deque[Item] = deque()
        self._limit = limit
        self._wake = threading.Event()
        self.dropped = 0
        self.offered = 0  # items taken in ...
        self.handled = 0  # ... and handled: equal when the pipeline has caught up

    def offer(self, item: Item, size: int = 1) -> None:
        """Called from any thread; ``size`` counts the raw inputs an item carries."""
        if len(self._items) + size > self._limit:
            self.dropped += size
            return
        self._items.append(item)
        self.offered += 1
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def wait(self, timeout_s: float) -> None:
        self._wake.wait(timeout=timeout_s)
        self._wake.clear()

    def drain(self) -> Iterator[Item]:
        """Each item is counted as handled once the consumer asks for the next one."""
        while self._items:
            yield self._items.popleft()
            self.handled += 1
