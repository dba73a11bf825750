"""The keystroke stage: a typing burst is held in memory, scanned, and only then released.

While a burst is open every event the pipeline produces waits here, so order is kept. At the
end of the burst the typed text is scanned together with the rest of the line it belongs to.
A clean burst is released as it was typed; a burst with findings, or one typed where a
password is expected, is released as a single ``text`` event with placeholders and no keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from deskscribe import events as ev
from deskscribe.redact.text import PASSWORD, Finding, Redacted, replace

MAX_HELD_CHARS = 4096
# After ``sudo``/``passwd``/``openssl``... the next two lines are treated as secret: prompts
# usually ask twice (new + verify). A command typed after a single prompt is lost; that is
# the price of never storing the repeat.
SECRET_LINES = 2
_MODIFIERS = frozenset({"shift", "shift_r", "altgr", "caps_lock", "num_lock"})


class Scanner(Protocol):
    def scan(self, text: str) -> list[Finding]: ...


def is_typing(key: str, char: str | None, mods: Sequence[str]) -> bool:
    """Keys that belong to a burst: printable characters, corrections and shift."""
    if key in _MODIFIERS:
        return True
    plain = set(mods) <= {"shift", "altgr", "caps_lock"}
    return plain and (key == "backspace" or (bool(char) and key not in ("tab", "enter", "esc")))


def typed_text(held: Sequence[ev.Event]) -> tuple[str, int]:
    """The text a burst leaves behind, and how many characters before it were erased."""
    out: list[str] = []
    erase = 0
    for e in held:
        if e.kind != ev.KEY_DOWN:
            continue
        if e.data["key"] == "backspace":
            if out:
                out.pop()
            else:
                erase += 1
        elif e.data["char"] and e.data["key"] not in _MODIFIERS:
            out.append(str(e.data["char"]))
    return "".join(out), erase


@dataclass(slots=True)
class TypingGuard:
    scanner: Scanner
    secure_commands: frozenset[str]
    synthetic: bool = False
    on_redacted: Callable[[Sequence[str]], None] = lambda values: None
    held: list[ev.Event] = field(default_factory=list)
    line: str = ""  # the field typed into so far: context for scanning the next burst
    command: str = ""  # the terminal line so far, across completions and edits, until Enter
    # Lines still expected to be secret in this terminal: a password and, often, its repeat.
    secret_lines: int = 0
    stats_redacted: int = 0
    # Keys of a redacted burst still held down: their releases must not be stored either.
    suppress_up: set[int] = field(default_factory=set)
    # A key of this burst was typed while the terminal had echo off: a password prompt.
    secret_typed: bool = False

    @property
    def secret_expected(self) -> bool:
        return self.secret_lines > 0

    @property
    def idle_flush_allowed(self) -> bool:
        """Never release a half-typed password because the person hesitated."""
        return not self.secret_expected

    def hold(self, e: ev.Event) -> None:
        self.held.append(e)

    def too_long(self) -> bool:
        return len(self.held) > 2 * MAX_HELD_CHARS

    def drop_keys_since(self, t_ns: int) -> int:
        """Forget held keys pressed at or after ``t_ns``: after a focus change they may have
        gone to the new window, which the pipeline learns of a moment late."""
        late = {int(e.data["vk"]) for e in self.held if e.kind == ev.KEY_DOWN and e.t_ns >= t_ns}
        late -= {int(e.data["vk"]) for e in self.held if e.kind == ev.KEY_UP and e.t_ns >= t_ns}
        before = len(self.held)
        self.held = [e for e in self.held if not (e.kind in (ev.KEY_DOWN, ev.KEY_UP) and e.t_ns >= t_ns)]
        self.suppress_up |= late
        return before - len(self.held)

    def new_window(self) -> None:
        """Focus moved: the line and any expected password belong to the old window."""
        self.line, self.command, self.secret_lines, self.secret_typed = "", "", 0, False

    def flush(self, *, enter: bool = False, secure_window: bool = False, keep_line: bool = False,
              placeholder: str = PASSWORD) -> list[ev.Event]:
        """End the burst. The line it belongs to goes on only when the burst ended by a pause
        in typing (``keep_line``): a click, Tab, any other special key or a focus change ends
        the field, and a field's text must never be scanned with the next field's."""
        held, self.held = self.held, []
        text, erase = typed_text(held)
        secure = secure_window or self.secret_expected or self.secret_typed
        self.secret_typed = False
        line_before = self.line[:max(0, len(self.line) - erase)]
        redacted = self._redact(line_before, text, secure, placeholder)
        # A password is never context for what follows it.
        self.line = "" if secure else line_before + text
        self.command = "" if secure else self.command[:max(0, len(self.command) - erase)] + text
        if enter:
            if self.secret_lines:
                self.secret_lines -= 1
            else:
                words = self.command.split()
                self.secret_lines = SECRET_LINES if words and words[0] in self.secure_commands else 0
            self.line = self.command = ""
        elif not keep_line:
            self.line = ""
        if redacted is None:
            return held
        self.stats_redacted += 1
        self.on_redacted(redacted.values)
        down: set[int] = set()
        for e in held:
            if e.kind == ev.KEY_DOWN:
                down.add(int(e.data["vk"]))
            elif e.kind == ev.KEY_UP:
                down.discard(int(e.data["vk"]))
        self.suppress_up |= down
        return _replace_keys(held, redacted, erase, secure)

    def _redact(self, before: str, text: str, secure: bool, placeholder: str = PASSWORD) -> Redacted | None:
        if secure:
            return Redacted(f"<{placeholder}>", (placeholder,), (text,)) if text else None
        if not text:
            return None
        # The whole line is scanned: a number typed in two bursts is still one number.
        start = len(before)
        hits = [Finding(max(f.start, start) - start, f.end - start, f.kind)
                for f in self.scanner.scan(before + text) if f.end > start]
        return replace(text, hits, synthetic=self.synthetic) if hits else None


def _replace_keys(held: list[ev.Event], red: Redacted, erase: int, secure: bool) -> list[ev.Event]:
    keys = [e for e in held if e.kind in (ev.KEY_DOWN, ev.KEY_UP)]
    if not keys:
        return held
    text_event = ev.Event(t_ns=keys[0].t_ns, kind=ev.TEXT, data={
        "text": red.text, "kinds": sorted(set(red.kinds)), "secure": secure, "erase": erase,
        "t_end_ns": keys[-1].t_ns})
    out: list[ev.Event] = []
    for e in held:
        if e is keys[0]:
            out.append(text_event)
        elif e.kind not in (ev.KEY_DOWN, ev.KEY_UP):
            out.append(e)
    return out
