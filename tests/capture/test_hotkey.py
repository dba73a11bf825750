"""Parsing and matching the pause hotkey."""

from __future__ import annotations

import pytest
from Xlib import XK

from deskscribe.capture.base import KEY_PRESS, KEY_RELEASE
from deskscribe.capture.hotkey import Hotkey

KEYSYMS = {37: [XK.XK_Control_L], 64: [XK.XK_Alt_L], 50: [XK.XK_Shift_L], 33: [XK.XK_p, XK.XK_P]}


@pytest.mark.parametrize(("spec", "mods", "key"), [
    ("ctrl+alt+shift+p", {"ctrl", "alt", "shift"}, "p"),
    ("Control + F12", {"ctrl"}, "f12"),
    ("win+space", {"super"}, "space"),
])
def test_parse(spec: str, mods: set[str], key: str) -> None:
    hk = Hotkey.parse(spec)
    assert hk.mods == mods and hk.key == key


@pytest.mark.parametrize("spec", ["p", "ctrl+alt", "ctrl+a+b", ""])
def test_parse_rejects_what_is_not_a_chord(spec: str) -> None:
    with pytest.raises(ValueError, match="modifiers and one key"):
        Hotkey.parse(spec)


def test_only_the_exact_chord_matches() -> None:
    hk = Hotkey.parse("ctrl+alt+shift+p")

    def press(*codes: int) -> list[bool]:
        out = [hk.feed(KEY_PRESS, c, KEYSYMS[c]) for c in codes]
        for c in reversed(codes):
            hk.feed(KEY_RELEASE, c, KEYSYMS[c])
        return out

    assert press(37, 64, 50, 33) == [False, False, False, True]
    assert press(37, 50, 33) == [False, False, False]  # alt missing
    assert press(33) == [False]
