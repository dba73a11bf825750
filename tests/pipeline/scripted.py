"""A scripted desktop for the pipeline's in-process tests: a fake :class:`Leaf` that replays
input and focus changes, and a writer that keeps what it is given in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deskscribe import events as ev
from deskscribe.capture.base import (
    BUTTON_PRESS,
    BUTTON_RELEASE,
    KEY_PRESS,
    KEY_RELEASE,
    MOTION,
    Layout,
    RawInput,
    Rect,
    WindowInfo,
)
from deskscribe.capture.xsettings import PointerSettings
from deskscribe.redact.text import Finding

RETURN, TAB, SHIFT = 36, 23, 50
_SPECIAL = {RETURN: (0xFF0D,), TAB: (0xFF09,), SHIFT: (0xFFE1,)}
WIDTH, HEIGHT = 200, 100
TERMINAL = WindowInfo(app="XTerm", title="xterm", pid=101, geometry=(0, 0, 100, 100), window=1)
CHAT = WindowInfo(app="Chat", title="inbox: 3 unread", pid=202, geometry=(100, 0, 100, 100), window=2)


def keycode(ch: str) -> int:
    return 100 + ord(ch.lower()) if ch != " " else 65


class Keymap:
    def keysyms(self, code: int) -> Sequence[int]:
        if code in _SPECIAL:
            return _SPECIAL[code]
        if code == 65:
            return (0x20,)
        ch = chr(code - 100)
        return (ord(ch), ord(ch.upper()))


class Screen:
    """Every snapshot is a new version: the screen changed since the last frame."""

    def __init__(self) -> None:
        self.version = 0
        self.whole_since_ms: int | None = -1  # read before the script's inputs (server time 0)

    def snapshot(self, before_ms: int | None) -> tuple[np.ndarray, int]:
        self.version += 1
        return np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8), self.version


@dataclass
class ScriptedLeaf:
    """Both windows side by side; only those the test marks kept count as designated pixels."""

    kept: tuple[bool, bool] = (True, False)
    keymap: Keymap = field(default_factory=Keymap)
    screen: Screen = field(default_factory=Screen)
    failure: str | None = None
    on_input: Callable[[list[RawInput]], None] | None = None
    on_focus: Callable[[int, WindowInfo | None], None] | None = None
    on_layout: Callable[[int], None] | None = None
    now_ns: int = 1_000_000_000
    relayouts: int = 0

    @property
    def layout(self) -> Layout:
        return Layout(width=WIDTH, height=HEIGHT, windows=(
            (Rect(*TERMINAL.geometry), self.kept[0]), (Rect(*CHAT.geometry), self.kept[1])))

    def start(self, *, on_input: Callable[[list[RawInput]], None],
              on_focus: Callable[[int, WindowInfo | None], None],
              on_layout: Callable[[int], None] = lambda mono_ns: None) -> None:
        self.on_input, self.on_focus, self.on_layout = on_input, on_focus, on_layout

    def stop(self) -> None:
        pass

    def relayout(self) -> None:
        self.relayouts += 1

    def monitors(self) -> list[tuple[int, int, int, int, float]]:
        return [(0, 0, WIDTH, HEIGHT, 1.0)]

    def pointer_settings(self) -> PointerSettings:
        return PointerSettings(double_click_ms=400, double_click_px=4, source="default")

    # -- the script ------------------------------------------------------------------------

    def advance(self, ms: int = 10) -> int:
        self.now_ns += ms * 1_000_000
        return self.now_ns

    def focus(self, window: WindowInfo | None) -> None:
        assert self.on_focus is not None
        self.on_focus(self.advance(), window)

    def send(self, *raw: tuple[int, int, int, int]) -> None:
        """(code, detail, x, y) inputs, 10 ms apart, delivered as one batch."""
        assert self.on_input is not None
        self.on_input([RawInput(code, detail, 0, x, y, self.advance()) for code, detail, x, y in raw])

    def type(self, text: str) -> None:
        for ch in text:
            self.send((KEY_PRESS, keycode(ch), 0, 0), (KEY_RELEASE, keycode(ch), 0, 0))

    def key(self, code: int) -> None:
        self.send((KEY_PRESS, code, 0, 0), (KEY_RELEASE, code, 0, 0))

    def click(self, x: int, y: int) -> None:
        self.send((MOTION, 0, x, y), (BUTTON_PRESS, 1, x, y), (BUTTON_RELEASE, 1, x, y))


class MemoryWriter:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.frames: list[Any] = []
        self._next_frame = 0

    def add_event(self, event: ev.Event) -> int:
        self.events.append(event)
        return len(self.events)

    def flush(self) -> None:
        pass

    def reserve_frame_id(self) -> int:
        self._next_frame += 1
        return self._next_frame

    def add_frame(self, record: Any) -> None:
        self.frames.append(record)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def markers(self) -> list[str]:
        return [e.data["marker"] for e in self.events if e.kind == ev.MARKER]

    def typed(self) -> str:
        """Characters typed, special keys as <name>."""
        return "".join(e.data["char"] or f"<{e.data['key']}>" for e in self.events if e.kind == ev.KEY_DOWN)


class WordScanner:
    """Finds one word, so a test knows exactly what must be replaced."""

    def __init__(self, word: str = "hunter2") -> None:
        self._word = word

    def scan(self, text: str) -> list[Finding]:
        i = text.find(self._word)
        return [] if i < 0 else [Finding(i, i + len(self._word), "SECRET")]
