"""The keystroke stage: what a held burst turns into when it is released."""

from __future__ import annotations

import pytest

from deskscribe import events as ev
from deskscribe.redact.keystrokes import TypingGuard, is_typing, typed_text
from deskscribe.redact.text import TextScanner


@pytest.fixture(scope="module")
def scanner() -> TextScanner:
    return TextScanner()


def guard(scanner: TextScanner, seen: list[str] | None = None) -> TypingGuard:
    return TypingGuard(scanner=scanner, secure_commands=frozenset({"su", "sudo"}),
                       on_redacted=(seen.extend if seen is not None else lambda v: None))


def keys(text: str, t0: int = 0) -> list[ev.Event]:
    out = []
    for i, ch in enumerate(text):
        key = "backspace" if ch == "\b" else ("space" if ch == " " else ch)
        char = None if ch == "\b" else ch
        data = {"key": key, "char": char, "vk": 10 + ord(ch) % 80, "mods": []}
        out.append(ev.Event(t0 + 2 * i, ev.KEY_DOWN, data))
        out.append(ev.Event(t0 + 2 * i + 1, ev.KEY_UP, data))
    return out


def feed(g: TypingGuard, events: list[ev.Event]) -> None:
    for e in events:
        g.hold(e)


@pytest.mark.parametrize(("key", "char", "mods", "expected"), [
    ("a", "a", [], True), ("A", "A", ["shift"], True), ("backspace", None, [], True),
    ("shift", None, [], True), ("enter", "\r", [], False), ("tab", "\t", [], False),
    ("c", "c", ["ctrl"], False), ("left", None, [], False), ("at", "@", ["altgr"], True),
])
def test_which_keys_belong_to_a_burst(key: str, char: str | None, mods: list[str], expected: bool) -> None:
    assert is_typing(key, char, mods) is expected


def test_typed_text_applies_corrections_and_counts_erasures() -> None:
    assert typed_text(keys("\b\babcx\bd")) == ("abcd", 2)


def test_a_clean_burst_is_released_exactly_as_typed(scanner: TextScanner) -> None:
    g = guard(scanner)
    burst = keys("hello world")
    feed(g, burst)
    assert g.flush(enter=True) == burst


def test_a_burst_with_pii_becomes_one_text_event_without_keys(scanner: TextScanner) -> None:
    seen: list[str] = []
    g = guard(scanner, seen)
    move = ev.Event(5, ev.MOUSE_MOVE, {"x": 1, "y": 2})
    burst = keys("to jane.doe@example.com")
    feed(g, [*burst[:4], move, *burst[4:]])
    out = g.flush(enter=True)
    assert [e.kind for e in out] == [ev.TEXT, ev.MOUSE_MOVE]
    text = out[0]
    assert text.data["text"] == "to <EMAIL_ADDRESS>" and text.data["kinds"] == ["EMAIL_ADDRESS"]
    assert text.t_ns == burst[0].t_ns and text.data["t_end_ns"] == burst[-1].t_ns
    assert "jane" not in repr(out) and seen == ["jane.doe@example.com"]
    ev.validate(text)


def test_a_number_split_over_two_bursts_is_still_found(scanner: TextScanner) -> None:
    g = guard(scanner)
    feed(g, keys("card 4111 1111 "))
    first = g.flush(keep_line=True)  # a pause in typing: nothing recognisable yet
    assert first and first[0].kind == ev.KEY_DOWN
    feed(g, keys("1111 1111", t0=100))
    out = g.flush(enter=True)
    assert [e.kind for e in out] == [ev.TEXT] and "1111" not in out[0].data["text"]


def test_keys_in_a_password_window_are_never_released(scanner: TextScanner) -> None:
    g = guard(scanner)
    feed(g, keys("hunter2 is plain"))
    out = g.flush(enter=True, secure_window=True)
    assert [e.kind for e in out] == [ev.TEXT]
    assert out[0].data == {"text": "<PASSWORD>", "kinds": ["PASSWORD"], "secure": True, "erase": 0,
                           "t_end_ns": out[0].data["t_end_ns"]}


def test_the_line_after_su_is_a_password_and_waits_for_enter(scanner: TextScanner) -> None:
    g = guard(scanner)
    feed(g, keys("su nobody"))
    assert g.flush(enter=True)[0].kind == ev.KEY_DOWN  # the command itself is ordinary text
    assert not g.idle_flush_allowed
    for _ in range(2):  # the password and its confirmation
        feed(g, keys("Tr0ub4dor&3"))
        out = g.flush(enter=True)
        assert [e.data.get("text") for e in out] == ["<PASSWORD>"]
    assert g.idle_flush_allowed  # the prompts are answered; the next line is ordinary again
    feed(g, keys("ls"))
    assert g.flush(enter=True)[0].kind == ev.KEY_DOWN


def test_focus_change_forgets_an_expected_password(scanner: TextScanner) -> None:
    g = guard(scanner)
    feed(g, keys("sudo -k"))
    g.flush(enter=True)
    g.new_window()
    feed(g, keys("notes"))
    assert g.flush(enter=True)[0].kind == ev.KEY_DOWN


def test_releases_of_keys_still_down_after_a_redacted_burst_are_suppressed(scanner: TextScanner) -> None:
    g = guard(scanner)
    burst = keys("x@example.com")
    feed(g, burst[:-1])  # the last key is still held when Enter ends the burst
    g.flush(enter=True)
    assert g.suppress_up == {int(burst[-1].data["vk"])}


def test_keys_held_just_before_a_focus_change_are_dropped(scanner: TextScanner) -> None:
    g = guard(scanner)
    early, late = keys("early "), keys("late", t0=1000)[:-1]  # the "e" is still held down
    feed(g, [*early, *late])
    assert g.drop_keys_since(1000) == len(late)
    out = g.flush()
    assert typed_text(out) == ("early ", 0)
    assert g.suppress_up == {int(late[-1].data["vk"])}  # its release must not be stored


def test_a_field_ends_where_the_next_key_or_click_says_so(scanner: TextScanner) -> None:
    """Tab, a click or any special key ends the field: its text is no context for the next."""
    g = guard(scanner)
    feed(g, keys("Zx9QrT7Lp2W88aaB4kPq"))
    assert [e.kind for e in g.flush()] == [ev.TEXT]  # a secret-looking reference
    feed(g, keys("meet me at noon", t0=100))
    out = g.flush(enter=True)
    assert typed_text(out) == ("meet me at noon", 0)


def test_a_password_is_never_context_for_what_follows(scanner: TextScanner) -> None:
    g = guard(scanner)
    feed(g, keys("Xk2Lm9Qp7Rt4Vz8W"))
    assert g.flush(secure_window=True, keep_line=True)[0].data["text"] == "<PASSWORD>"
    feed(g, keys("http://intranet/wiki", t0=100))
    assert typed_text(g.flush(enter=True)) == ("http://intranet/wiki", 0)


def test_a_command_is_recognised_across_a_tab_completion(scanner: TextScanner) -> None:
    g = guard(scanner)
    feed(g, keys("sudo apt upg"))
    g.flush()  # Tab completes the word
    feed(g, keys("rade", t0=100))
    g.flush(enter=True)
    assert not g.idle_flush_allowed  # the password prompt of sudo comes next


def test_keys_typed_while_the_terminal_had_echo_off_are_a_password(scanner: TextScanner) -> None:
    g = guard(scanner)
    feed(g, keys("plainlooking"))
    g.secret_typed = True
    out = g.flush(enter=True)
    assert [e.data.get("text") for e in out] == ["<PASSWORD>"]
    feed(g, keys("ls -l", t0=100))  # echo is back on: ordinary text again
    assert typed_text(g.flush(enter=True)) == ("ls -l", 0)
