import pytest

from deskscribe.capture.keyboard import KeyTranslator, keysym_char, keysym_name

SHIFT, CTRL, CAPS, ALTGR = 50, 37, 66, 108
KEYMAP = {
    SHIFT: (0xFFE1,), CTRL: (0xFFE3,), CAPS: (0xFFE5,), ALTGR: (0xFE03,),
    38: (0x61, 0x41),            # a A
    10: (0x31, 0x21),            # 1 !
    26: (0x65, 0x45, 0, 0, 0x20AC, 0),  # e E, altgr: €
    36: (0xFF0D,),               # Return
}


def run(steps: list[tuple[str, int]]) -> list[tuple[str, str | None, list[str]]]:
    tr = KeyTranslator()
    out = []
    for action, code in steps:
        fn = tr.press if action == "down" else tr.release
        out.append(fn(code, KEYMAP[code]))
    return out


@pytest.mark.parametrize(("steps", "expected_last"), [
    ([("down", 38)], ("a", "a", [])),
    ([("down", SHIFT), ("down", 38)], ("a", "A", ["shift"])),
    ([("down", SHIFT), ("down", 10)], ("1", "!", ["shift"])),
    ([("down", CAPS), ("up", CAPS), ("down", 38)], ("a", "A", ["caps_lock"])),
    ([("down", CAPS), ("up", CAPS), ("down", 10)], ("1", "1", ["caps_lock"])),  # caps: letters only
    ([("down", CAPS), ("up", CAPS), ("down", SHIFT), ("down", 38)], ("a", "a", ["shift", "caps_lock"])),
    ([("down", CTRL), ("down", SHIFT), ("down", 38)], ("a", "A", ["ctrl", "shift"])),
    ([("down", ALTGR), ("down", 26)], ("e", "€", ["altgr"])),
    ([("down", 36)], ("enter", None, [])),
    # a released shifted key reports what it typed, after shift was released first
    ([("down", SHIFT), ("down", 38), ("up", SHIFT), ("up", 38)], ("a", "A", [])),
])
def test_translation(steps: list[tuple[str, int]], expected_last: tuple[str, str | None, list[str]]) -> None:
    assert run(steps)[-1] == expected_last


def test_reset_forgets_held_modifiers() -> None:
    tr = KeyTranslator()
    tr.press(SHIFT, KEYMAP[SHIFT])
    tr.reset()
    assert tr.press(38, KEYMAP[38]) == ("a", "a", [])


@pytest.mark.parametrize(("keysym", "name", "char"), [
    (0x61, "a", "a"), (0x41, "a", "A"), (0x20, "space", " "), (0xFF08, "backspace", None),
    (0xFFBE, "f1", None), (0x10020AC, "€", "€"), (0xFFB5, "num_5", "5"), (0xFF1B, "esc", None),
])
def test_keysyms(keysym: int, name: str, char: str | None) -> None:
    assert keysym_name(keysym) == name
    assert keysym_char(keysym) == char
