"""The global pause hotkey, taken out of the input stream before anything records it."""

from __future__ import annotations

from deskscribe.capture.base import KEY_PRESS, KEY_RELEASE, Keymap, RawInput
from deskscribe.capture.hotkey import Hotkey


class HotkeyFilter:
    def __init__(self, *, hotkey: Hotkey | None, keymap: Keymap) -> None:
        self._hotkey = hotkey
        self._keymap = keymap
        self._swallowed: set[int] = set()

    def feed(self, raw: RawInput) -> tuple[bool, bool]:
        """(toggle, swallow): whether this key completes the hotkey, and whether it belongs to it
        (its press or the release of a key that completed it) and so is not recorded."""
        if self._hotkey is None or raw.code not in (KEY_PRESS, KEY_RELEASE):
            return False, False
        if self._hotkey.feed(raw.code, raw.detail, self._keymap.keysyms(raw.detail)):
            self._swallowed.add(raw.detail)
            return True, True
        if raw.code == KEY_RELEASE and raw.detail in self._swallowed:
            self._swallowed.discard(raw.detail)
            return False, True
        return False, False
