"""Keysym -> (key name, character) with modifier state tracked by the recorder itself.

The X server reports the modifier state *before* each event and a released shifted key
reports its unshifted symbol, so the recorder keeps its own modifier set and remembers what
each pressed keycode produced. Pure logic; the keymap comes from the OS leaf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from Xlib import XK

for _group in ("xkb", "xf86"):
    XK.load_keysym_group(_group)
# python-xlib resolves names to keysyms only; this is the reverse table.
_KEYSYM_NAMES: dict[int, str] = {}
for _name in sorted(n for n in vars(XK) if n.startswith("XK_")):
    _KEYSYM_NAMES.setdefault(getattr(XK, _name), _name[3:])

# Modifier keysym names -> the modifier they hold.
_MODIFIER_KEYS = {
    "Shift_L": "shift", "Shift_R": "shift", "Control_L": "ctrl", "Control_R": "ctrl",
    "Alt_L": "alt", "Alt_R": "alt", "Meta_L": "alt", "Meta_R": "alt",
    "Super_L": "super", "Super_R": "super", "Hyper_L": "super", "Hyper_R": "super",
    "ISO_Level3_Shift": "altgr", "Mode_switch": "altgr",
}

_SPECIAL_NAMES = {
    "Return": "enter", "KP_Enter": "enter", "BackSpace": "backspace", "Tab": "tab",
    "ISO_Left_Tab": "tab", "Escape": "esc", "Delete": "delete", "Insert": "insert",
    "Home": "home", "End": "end", "Prior": "page_up", "Next": "page_down",
    "Page_Up": "page_up", "Page_Down": "page_down", "Left": "left",
    "Right": "right", "Up": "up", "Down": "down", "Caps_Lock": "caps_lock",
    "Num_Lock": "num_lock", "Scroll_Lock": "scroll_lock", "Print": "print_screen",
    "Pause": "pause", "Menu": "menu", "space": "space",
    "Shift_L": "shift", "Shift_R": "shift_r", "Control_L": "ctrl", "Control_R": "ctrl_r",
    "Alt_L": "alt", "Alt_R": "alt_r", "Meta_L": "alt", "Meta_R": "alt_r",
    "Super_L": "win", "Super_R": "win_r", "ISO_Level3_Shift": "altgr", "Mode_switch": "altgr",
}


def keysym_char(keysym: int) -> str | None:
    """The character a keysym types, by the X11 keysym encoding (Latin-1 and Unicode)."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if 0x1000000 <= keysym <= 0x110FFFF:
        return chr(keysym - 0x1000000)
    if 0xFFB0 <= keysym <= 0xFFB9:  # keypad digits
        return chr(keysym - 0xFFB0 + ord("0"))
    if keysym == 0x20AC:  # EuroSign predates the Unicode keysym range
        return "€"
    return None


def _raw_name(keysym: int) -> str | None:
    return _KEYSYM_NAMES.get(keysym)


def keysym_name(keysym: int) -> str:
    name = _raw_name(keysym)
    if name is None:
        char = keysym_char(keysym)
        return char.lower() if char else f"keysym_{keysym:#x}"
    if name in _SPECIAL_NAMES:
        return _SPECIAL_NAMES[name]
    if name.startswith("F") and name[1:].isdigit():
        return name.lower()
    if name.startswith("KP_"):
        return "num_" + name[3:].lower()
    char = keysym_char(keysym)
    return char.lower() if char else name.lower()


@dataclass(slots=True)
class KeyTranslator:
    """Stateful: held modifiers, caps lock, and what each held keycode typed."""

    held: set[str] = field(default_factory=set)
    caps_lock: bool = False
    _pressed: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def mods(self) -> list[str]:
        out = sorted(self.held)
        return [*out, "caps_lock"] if self.caps_lock else out

    def press(self, keycode: int, keysyms: Sequence[int]) -> tuple[str, str | None, list[str]]:
        mods = self.mods()
        base = keysyms[0] if keysyms else 0
        base_name = _raw_name(base) or ""
        key, char = keysym_name(base), self._char(keysyms)
        if base_name in _MODIFIER_KEYS:
            self.held.add(_MODIFIER_KEYS[base_name])
            char = None
        elif base_name == "Caps_Lock":
            self.caps_lock = not self.caps_lock
        self._pressed[keycode] = (key, char)
        return key, char, mods

    def release(self, keycode: int, keysyms: Sequence[int]) -> tuple[str, str | None, list[str]]:
        base = keysyms[0] if keysyms else 0
        key, char = self._pressed.pop(keycode, (keysym_name(base), None))
        name = _raw_name(base) or ""
        if name in _MODIFIER_KEYS:
            self.held.discard(_MODIFIER_KEYS[name])
        return key, char, self.mods()

    def is_down(self, keycode: int) -> bool:
        return keycode in self._pressed

    def reset(self) -> None:
        """Forget held keys (focus left a designated window; their releases are not seen)."""
        self.held.clear()
        self._pressed.clear()

    def _char(self, keysyms: Sequence[int]) -> str | None:
        if not keysyms:
            return None
        lower = keysym_char(keysyms[0])
        upper = keysym_char(keysyms[1]) if len(keysyms) > 1 and keysyms[1] else None
        if "altgr" in self.held and len(keysyms) > 4 and keysyms[4]:
            alt = keysym_char(keysyms[5] if "shift" in self.held and len(keysyms) > 5
                              and keysyms[5] else keysyms[4])
            if alt:
                return alt
        shifted = "shift" in self.held
        if lower is not None and lower.isalpha() and self.caps_lock:
            shifted = not shifted
        if shifted:
            if upper is not None:
                return upper
            return lower.upper() if lower is not None else None
        return lower
