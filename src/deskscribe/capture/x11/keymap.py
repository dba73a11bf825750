"""Keycode to keysym table, kept in step with the server's keyboard mapping."""

from __future__ import annotations

from collections.abc import Sequence

from Xlib import display


class X11Keymap:
    def __init__(self, disp: display.Display) -> None:
        self._map: dict[int, tuple[int, ...]] = {}
        self.refresh(disp)

    def refresh(self, disp: display.Display, first: int | None = None, count: int | None = None) -> None:
        """Re-read keycodes [first, first+count); all of them by default."""
        if first is None or count is None:
            first = disp.display.info.min_keycode
            count = disp.display.info.max_keycode - first + 1
        rows = disp.get_keyboard_mapping(first, count)
        updated = dict(self._map)
        updated.update({first + i: tuple(r) for i, r in enumerate(rows)})
        self._map = updated  # swapped whole: the pipeline thread reads it without a lock

    def keysyms(self, keycode: int) -> Sequence[int]:
        return self._map.get(keycode, ())
