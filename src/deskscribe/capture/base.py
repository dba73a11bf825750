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


class CaptureUnavailable(RuntimeError):
    """Capture cannot start here (no display, Wayland, missing extension); says what to do."""


@dataclass(frozen=True, slots=True)
class WindowInfo:
    app: str | None
    title: str | None
    pid: int | None
    geometry: tuple[int, int, int, int]
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    width: int
    height: int

    def contains(self, px: int, py: int) -> bool:
        return self.x <= px < self.x + self.width and self.y <= py < self.y + self.height


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
              on_focus: Callable[[int, WindowInfo | None], None]) -> None: ...

    def stop(self) -> None: ...

    def monitors(self) -> list[tuple[int, int, int, int, float]]: ...

    def pointer_settings(self) -> PointerSettings: ...
