"""The global pause hotkey, seen in the same input stream as everything else.

The recorder already receives every key on the desktop (before the policy gate decides what
to keep), so the chord is matched there: no second keyboard hook, and it works while paused
or while a non-designated app is in front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from deskscribe.capture.base import KEY_PRESS
from deskscribe.capture.keyboard import KeyTranslator

_ALIASES = {"control": "ctrl", "win": "super", "meta": "alt", "cmd": "super"}
_MODS = frozenset({"ctrl", "alt", "shift", "super", "altgr"})


@dataclass(slots=True)
class Hotkey:
    mods: frozenset[str]
    key: str
    _keys: KeyTranslator = field(default_factory=KeyTranslator)

    @classmethod
    def parse(cls, spec: str) -> Hotkey:
        parts = [_ALIASES.get(p.strip().lower(), p.strip().lower()) for p in spec.split("+")]
        mods, keys = {p for p in parts if p in _MODS}, [p for p in parts if p not in _MODS]
        if len(keys) != 1 or not keys[0] or not mods:
            raise ValueError(f"hotkey {spec!r} must be modifiers and one key, e.g. ctrl+alt+shift+p")
        return cls(frozenset(mods), keys[0])

    def feed(self, code: int, keycode: int, keysyms: Sequence[int]) -> bool:
        """True when this press completes the chord."""
        if code == KEY_PRESS:
            key, _, mods = self._keys.press(keycode, keysyms)
            return key == self.key and set(mods) - {"caps_lock"} == self.mods
        self._keys.release(keycode, keysyms)
        return False
