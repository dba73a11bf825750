"""What crosses the per-OS seam: raw input tuples, window facts, the visible-window layout.

An OS leaf produces these and nothing else; the recorder pipeline turns them into events after
the policy gate. Keeping them plain and immutable lets the gate and the frame mask be pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from deskscribe.capture.xsettings import PointerSettings
from deskscribe.geometry import Rect, subtract

__all__ = ["Rect"]  # re-exported: capture speaks of the screen in these rectangles

# Raw input codes follow the X11 core event numbers; other leaves map onto them.
KEY_PRESS = 2
KEY_RELEASE = 3
BUTTON_PRESS = 4
BUTTON_RELEASE = 5
MOTION = 6


class RawInput(NamedTuple):
    """One input as the OS reported it. ``server_ms`` orders it against screen updates."""

    code: int
    detail: int  # button number or keycode
    server_ms: int
    x: int
    y: int
    mono_ns: int


@dataclass(frozen=True, slots=True)
class WindowInfo:
    app: str | None
    title: str | None
    pid: int | None
    geometry: tuple[int, int, int, int]
    url: str | None = None
    window: int | None = None  # the OS's window id: tells a retitled window from another one

    def same_window(self, other: WindowInfo | None) -> bool:
        if other is None:
            return False
        if self.window is not None and other.window is not None:
            return self.window == other.window
        return (self.app, self.pid) == (other.app, other.pid)


@dataclass(frozen=True, slots=True)
class Layout:
    """Visible top-level windows, bottom to top, each marked keep (designated) or not.

    A pixel may be stored only if the top-most window covering it is kept; anything else,
    including the desktop and windows nobody can identify, is black.
    """

    width: int
    height: int
    windows: tuple[tuple[Rect, bool], ...] = ()
    _mask: list[np.ndarray] = field(default_factory=list, compare=False, repr=False)
    _visible: list[bool] = field(default_factory=list, compare=False, repr=False)
    _parts: list[tuple[Rect, ...]] = field(default_factory=list, compare=False, repr=False)

    def designated_at(self, x: int, y: int) -> bool:
        for rect, keep in reversed(self.windows):
            if rect.contains(x, y):
                return keep
        return False

    @property
    def any_kept(self) -> bool:
        """Some designated pixel is visible: false under a lock screen or a full-screen cover."""
        if not self._visible:  # asked for every input: computed once per layout
            self._visible.append(any(keep for _, keep in self.windows) and bool(self.mask().any()))
        return self._visible[0]

    @property
    def kept_rects(self) -> tuple[Rect, ...]:
        return tuple(r for r, keep in self.windows if keep)

    @property
    def visible_kept(self) -> tuple[Rect, ...]:
        """The parts of designated windows no other window covers. Text is cut where a cover
        begins just as at a window's edge, so the redactor reads each part on its own."""
        if not self._parts:
            parts: list[Rect] = []
            for i, (rect, keep) in enumerate(self.windows):
                if not keep:
                    continue
                pieces = [rect]
                for above, _ in self.windows[i + 1:]:
                    pieces = [p for piece in pieces for p in subtract(piece, above)]
                parts += pieces
            self._parts.append(tuple(parts))
        return self._parts[0]

    def mask(self) -> np.ndarray:
        """Boolean HxW array, True where pixels may be stored. Computed once per layout."""
        if not self._mask:
            m = np.zeros((self.height, self.width), dtype=bool)
            for r, keep in self.windows:
                x0, y0 = max(r.x, 0), max(r.y, 0)
                x1, y1 = min(r.x + r.width, self.width), min(r.y + r.height, self.height)
                if x1 > x0 and y1 > y0:
                    m[y0:y1, x0:x1] = keep
            self._mask.append(m)
        return self._mask[0]


class Keymap(Protocol):
    def keysyms(self, keycode: int) -> Sequence[int]: ...


class ScreenSource(Protocol):
    """What the recorder asks of the screen side of a leaf."""

    def snapshot(self, before_ms: int | None) -> tuple[np.ndarray, int]: ...

    @property
    def whole_since_ms(self) -> int | None:
        """Server time from which every kept pixel is in the model; None while some are unread."""
        ...


class Leaf(Protocol):
    """An OS capture backend, started and stopped by the recorder."""

    @property
    def keymap(self) -> Keymap: ...

    @property
    def screen(self) -> ScreenSource: ...

    @property
    def layout(self) -> Layout: ...

    @property
    def failure(self) -> str | None: ...

    def start(self, *, on_input: Callable[[list[RawInput]], None],
              on_focus: Callable[[int, WindowInfo | None], None],
              on_layout: Callable[[int], None] = lambda mono_ns: None) -> None:
        """``on_layout(mono_ns)``: called from the leaf's thread after the kept layout changed."""
        ...

    def stop(self) -> None: ...

    def relayout(self) -> None:
        """Read the layout again: what a context source keeps of a window changed."""
        ...

    def monitors(self) -> list[tuple[int, int, int, int, float]]: ...

    def pointer_settings(self) -> PointerSettings: ...
