"""Raw OS input -> event data: button names, wheel notches, keys with their modifiers.

It remembers only what a mapping needs (buttons and keys held down), so a release whose press
was not recorded (pressed outside a designated window) is not stored either. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deskscribe.capture.base import RawInput
from deskscribe.capture.keyboard import KeyTranslator
from deskscribe.redact.keystrokes import is_typing

BUTTONS = {1: "left", 2: "middle", 3: "right", 8: "back", 9: "forward"}
SCROLL = {4: (0, 1), 5: (0, -1), 6: (-1, 0), 7: (1, 0)}  # (dx, dy) in wheel notches; up is +


@dataclass(frozen=True, slots=True)
class KeyPress:
    key: str
    char: str | None
    mods: list[str]
    vk: int

    @property
    def typing(self) -> bool:
        """Part of a typing burst (held and scanned) rather than a special key or chord."""
        return is_typing(self.key, self.char, self.mods)

    @property
    def enter(self) -> bool:
        return self.key in ("enter", "linefeed")

    def data(self) -> dict[str, Any]:
        return {"key": self.key, "char": self.char, "vk": self.vk, "mods": self.mods}


class InputMapper:
    def __init__(self) -> None:
        self._keys = KeyTranslator()
        self._buttons_down: set[int] = set()

    def reset(self) -> None:
        """Capture closed: whatever is held now was pressed where nothing is recorded."""
        self._keys.reset()
        self._buttons_down.clear()

    def mods(self) -> list[str]:
        return self._keys.mods()

    def press(self, raw: RawInput, keysyms: Sequence[int]) -> KeyPress:
        key, char, mods = self._keys.press(raw.detail, keysyms)
        return KeyPress(key=key, char=char, mods=mods, vk=raw.detail)

    def release(self, raw: RawInput, keysyms: Sequence[int]) -> dict[str, Any] | None:
        """A key-up's data, or None when its press was not recorded."""
        if not self._keys.is_down(raw.detail):
            return None
        key, char, mods = self._keys.release(raw.detail, keysyms)
        return {"key": key, "char": char, "vk": raw.detail, "mods": mods}

    def button_down(self, raw: RawInput) -> dict[str, Any]:
        self._buttons_down.add(raw.detail)
        return {"x": raw.x, "y": raw.y, "button": BUTTONS[raw.detail], "mods": self._keys.mods()}

    def button_up(self, raw: RawInput) -> dict[str, Any] | None:
        if raw.detail not in self._buttons_down:
            return None
        self._buttons_down.discard(raw.detail)
        return {"x": raw.x, "y": raw.y, "button": BUTTONS[raw.detail]}

    @staticmethod
    def scroll(raw: RawInput) -> dict[str, Any]:
        dx, dy = SCROLL[raw.detail]
        return {"x": raw.x, "y": raw.y, "dx": dx, "dy": dy}

    @staticmethod
    def motion(raw: RawInput) -> dict[str, Any]:
        return {"x": raw.x, "y": raw.y}
