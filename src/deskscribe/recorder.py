"""The capture pipeline: OS leaf -> policy gate -> redaction -> session writer.

Leaf callbacks only append to a bounded in-memory inbox; one pipeline thread applies the
gate, tracks modifiers and decides when a pre-action frame is due, so nothing from a
non-designated window is ever handed to the store. Typed text is held and scanned per burst,
titles are scanned before their focus event is written, and frames go to the redaction stage;
the store only ever sees the cleaned result.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deskscribe import events as ev
from deskscribe.capture.base import (
    BUTTON_PRESS,
    BUTTON_RELEASE,
    KEY_PRESS,
    KEY_RELEASE,
    MOTION,
    Leaf,
    RawInput,
    Rect,
    WindowInfo,
)
from deskscribe.capture.hotkey import Hotkey
from deskscribe.capture.keyboard import KeyTranslator
from deskscribe.capture.terminal import NoTerminals, Terminals
from deskscribe.geometry import union
from deskscribe.policy import Policy
from deskscribe.redact.keystrokes import Scanner, TypingGuard, is_typing
from deskscribe.redact.stage import FrameStage, Redactor
from deskscribe.redact.text import replace
from deskscribe.store import SessionWriter

INBOX_LIMIT = 100_000
TYPING_GAP_NS = 1_000_000_000
SCROLL_GAP_NS = 500_000_000
# Focus changes reach the pipeline after the X server made them (a few ms, more under load);
# keys held from this long before the notification are not attributed to the window that
# lost focus, since they may have gone to the new one.
FOCUS_SLACK_NS = 300_000_000
KEY_FRAME_GAP_NS = 250_000_000
# How long a burst waits for the OCR of the prompt it may answer. The first frame of a session
# is read whole, which takes a second or two on a busy machine; input waits in the inbox.
PROMPT_WAIT_S = 5.0
IDLE_RELEASE_NS = 3_000_000_000  # a typing burst is scanned and written after this much quiet
_ENTER_KEYSYMS = frozenset({0xFF0D, 0xFF8D})  # Return, KP_Enter
_BUTTONS = {1: "left", 2: "middle", 3: "right", 8: "back", 9: "forward"}
_SCROLL = {4: (0, 1), 5: (0, -1), 6: (-1, 0), 7: (1, 0)}  # (dx, dy) in wheel notches; up is +


@dataclass(slots=True)
class Stats:
    inputs_excluded: int = 0
    inputs_paused: int = 0
    dropped: int = 0
    frames: int = 0
    recording_app: str | None = None
    frames_paused: bool = False
    paused: bool = False
    bursts_redacted: int = 0
    frames_dropped: int = 0


class Recorder:
    def __init__(self, *, leaf: Leaf, writer: SessionWriter, policy: Policy, scanner: Scanner,
                 redactor: Redactor, hotkey: Hotkey | None = None,
                 password_focus: Callable[[int], bool] = lambda mono_ns: False,
                 terminals: Terminals | None = None,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._leaf = leaf
        self._writer = writer
        self._policy = policy
        self._clock = clock
        self._t0 = clock()
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="deskscribe-pipeline", daemon=True)
        self.stats = Stats()
        self._keys = KeyTranslator()
        self._scanner = scanner
        self._stage = FrameStage(redactor=redactor, sink=writer)
        self._guard = TypingGuard(scanner=scanner, secure_commands=frozenset(policy.secure_commands),
                                  synthetic=policy.synthetic_values, on_redacted=self._stage.add_known)
        self._secure_window = False
        self._covered = False
        self._hotkey = hotkey
        self._password_focus = password_focus
        self._terminals: Terminals = terminals or NoTerminals()
        self._after_enter = True  # the next key may answer a prompt already on screen
        self._latest_focus: WindowInfo | None = None
        self._echo_off = False  # the last answer of the terminal echo check
        self._prompt_frame: int | None = None  # the frame that shows what the burst answers
        self._swallowed: set[int] = set()
        self._titles: dict[str, str] = {}
        self._gate_open = False
        self._gate_closed_for_good = False
        self._withdrawn = threading.Event()
        self._excluded_since: int | None = None
        self._current_focus: WindowInfo | None = None
        self._resume_at: int | None = None
        self._buttons_down: set[int] = set()
        self._last_key_ns = -TYPING_GAP_NS
        self._after_special = False
        self._last_scroll_ns = -SCROLL_GAP_NS
        self._last_frame_ns = 0
        self._frame_version = -1

    # -- called from leaf threads: enqueue only ------------------------------------------

    def _offer(self, item: tuple[Any, ...], size: int = 1) -> None:
        if len(self._inbox) + size > INBOX_LIMIT:
            self.stats.dropped += size
            return
        self._inbox.append(item)
        self._wake.set()

    def on_input(self, batch: list[RawInput]) -> None:
        """Whether the focused terminal reads a secret is asked here, when the keys arrive:
        by the time the pipeline scans the burst the prompt may be over. Keys up to the last
        Enter of a batch were typed before what the answer describes began (a command ending
        in Enter that starts a prompt), so they take the answer given for the batch before."""
        secret, before = False, self._echo_off
        if self._gate_open and any(r.code == KEY_PRESS for r in batch):
            pids = {f.pid for f in (self._current_focus, self._latest_focus) if f is not None}
            secret = self._echo_off = any(self._terminals.secret_input(pid) for pid in pids)
        last_enter = max((i for i, r in enumerate(batch) if r.code == KEY_PRESS and self._is_enter(r.detail)),
                         default=-1) if secret != before else -1
        self._offer(("in", batch, secret, before, last_enter), len(batch))

    def _is_enter(self, keycode: int) -> bool:
        return bool(_ENTER_KEYSYMS.intersection(self._leaf.keymap.keysyms(keycode)))

    def on_focus(self, mono_ns: int, info: WindowInfo | None) -> None:
        self._latest_focus = info  # for the echo check of keys that arrive before the pipeline
        self._offer(("focus", mono_ns, info))

    @property
    def failure(self) -> str | None:
        return self._leaf.failure or self._stage.error

    @property
    def withdrawn(self) -> bool:
        return self._withdrawn.is_set()

    def withdraw(self) -> None:
        """Objection: from now on nothing is captured, and the recording ends."""
        self._gate_closed_for_good = True
        self._withdrawn.set()
        self.add_marker("withdraw")

    def add_marker(self, marker: str, **data: Any) -> None:
        """A marker from outside capture (task boundaries), stored in order with the input."""
        self._offer(("marker", marker, data))

    def pause(self, seconds: float | None = None) -> None:
        """Stop capturing until :meth:`resume` (or for ``seconds``)."""
        self._offer(("pause", seconds))

    def resume(self) -> None:
        self._offer(("resume",))

    def set_frames_paused(self, paused: bool) -> None:
        self._offer(("frames", paused))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._emit(0, ev.MARKER, {"marker": "start"})
        self._thread.start()
        self._leaf.start(on_input=self.on_input, on_focus=self.on_focus)

    def stop(self) -> None:
        self._leaf.stop()
        self._stopping = True
        self._wake.set()
        self._thread.join()
        now = self._rel(self._clock())
        self._release()
        self._frame(now, "final", None, only_if_changed=True)  # the state the session ends on
        self._close_exclusion(now)
        self._emit(now, ev.MARKER, {"marker": "stop"})
        self._stage.close()
        self.stats.frames_dropped = self._stage.dropped

    # -- pipeline thread ------------------------------------------------------------------

    def _run(self) -> None:
        interval_ns = int(self._policy.screenshot_interval_s * 1e9)
        while True:
            due = self._last_frame_ns + interval_ns
            if self._resume_at is not None:
                due = min(due, self._resume_at)
            if self._guard.held and self._guard.idle_flush_allowed:
                due = min(due, self._last_key_ns + IDLE_RELEASE_NS)
            wait = max(0.0, (due - self._rel(self._clock())) / 1e9)
            self._wake.wait(timeout=wait)
            self._wake.clear()
            while self._inbox:
                item = self._inbox.popleft()
                if item[0] == "in":
                    for i, raw in enumerate(item[1]):
                        self._input(raw, item[3] if i <= item[4] else item[2])
                elif item[0] == "focus":
                    self._focus(self._rel(item[1]), item[2])
                elif item[0] == "marker":
                    self._emit(self._rel(self._clock()), ev.MARKER, {"marker": item[1], **item[2]})
                elif item[0] == "pause":
                    self._pause(self._rel(self._clock()), item[1])
                elif item[0] == "resume":
                    self._resume(self._rel(self._clock()))
                else:
                    self._frames_paused(item[1])
            if self._stopping:
                self._writer.flush()
                return
            now = self._rel(self._clock())
            if self._resume_at is not None and now >= self._resume_at:
                self._resume(now)
            if self._guard.held and ((self._guard.idle_flush_allowed
                                      and now >= self._last_key_ns + IDLE_RELEASE_NS)
                                     or self._guard.too_long()):
                self._release(keep_line=True)
            if now >= self._last_frame_ns + interval_ns:
                if self._guard.held:  # the screen shows a burst not yet scanned: wait a period
                    self._last_frame_ns = now
                else:
                    self._frame(now, "periodic", None, only_if_changed=True)
            self.stats.frames_dropped = self._stage.dropped
            self._writer.flush()

    def _rel(self, mono_ns: int) -> int:
        return max(0, mono_ns - self._t0)

    def _emit(self, t_ns: int, kind: str, data: dict[str, Any]) -> None:
        e = ev.Event(t_ns=t_ns, kind=kind, data=data)
        if self._guard.held:  # a typing burst is open: keep everything in order behind it
            self._guard.hold(e)
        else:
            self._writer.add_event(e)

    def _release(self, *, enter: bool = False, keep_line: bool = False) -> None:
        """End the typing burst: scan it and hand the result to the writer. A burst is secure
        in a password window, or if a password field had focus at any time since it began.
        Only a pause in typing (``keep_line``) leaves the field's text as context."""
        first = next((e.t_ns for e in self._guard.held if e.kind == ev.KEY_DOWN), None)
        secure = self._secure_window or (first is not None and self._password_focus(first + self._t0))
        if self._prompt_frame is not None and first is not None and not secure \
                and not self._guard.secret_expected:
            shown = self._stage.prompt_shown(self._prompt_frame, PROMPT_WAIT_S)
            self._prompt_frame = None
            if shown is not False:  # a prompt, or no answer in time: the line is a password
                self._guard.secret_lines = max(self._guard.secret_lines, 1)
        for e in self._guard.flush(enter=enter, secure_window=secure, keep_line=keep_line):
            self._writer.add_event(e)
        self.stats.bursts_redacted = self._guard.stats_redacted

    def _clean(self, text: str | None) -> str | None:
        """A title or URL with its findings replaced; the originals go to the frame stage
        because a title bar shows the same text."""
        if not text:
            return text
        if text not in self._titles:
            found = self._scanner.scan(text)
            red = replace(text, found, synthetic=self._policy.synthetic_values)
            if red.values:
                self._stage.add_known(red.values)
            if len(self._titles) > 256:
                self._titles.clear()
            self._titles[text] = red.text
        return self._titles[text]

    def _frames_paused(self, paused: bool) -> None:
        if paused != self.stats.frames_paused:
            self.stats.frames_paused = paused
            marker = "frames_off" if paused else "frames_on"
            self._emit(self._rel(self._clock()), ev.MARKER, {"marker": marker})

    def _close_exclusion(self, t_ns: int) -> None:
        if self._excluded_since is not None:
            start = self._excluded_since
            self._emit(start, ev.MARKER, {"marker": "excluded", "duration_ms": (t_ns - start) // 1_000_000})
            self._excluded_since = None

    def _pause(self, t_ns: int, seconds: float | None) -> None:
        self._resume_at = None if seconds is None else t_ns + int(seconds * 1e9)
        if self.stats.paused:
            return
        self._release()
        if self._gate_open:
            self._frame(t_ns, "final", None, only_if_changed=True)
        self._close_exclusion(t_ns)
        self.stats.paused, self._gate_open, self.stats.recording_app = True, False, None
        self._keys.reset()
        self._buttons_down.clear()
        self._emit(t_ns, ev.MARKER, {"marker": "pause", "for_s": seconds})

    def _resume(self, t_ns: int) -> None:
        self._resume_at = None
        if not self.stats.paused:
            return
        self.stats.paused = False
        self._emit(t_ns, ev.MARKER, {"marker": "resume"})
        self._focus(t_ns, self._current_focus)  # the window in front now decides, as at start

    def _focus(self, t_ns: int, info: WindowInfo | None, *, keep_current: bool = False) -> None:
        before = self._current_focus
        if not keep_current:
            self._current_focus = info
        if self._covered:
            info = None
        if self.stats.paused:
            return  # not even which window is in front is stored while paused
        if self._gate_closed_for_good:
            return
        if info is not None and self._gate_open and info.same_window(before) \
                and self._policy.is_designated(info.app, info.title):
            self._retitle(t_ns, info)
            return
        moved = info is None or not info.same_window(before)
        if moved:  # the newest held keys may belong to the window now in front
            self.stats.inputs_excluded += self._guard.drop_keys_since(t_ns - FOCUS_SLACK_NS)
        self._release()
        if moved:
            self._guard.new_window()
            self._after_enter, self._prompt_frame = True, None
        self._secure_window = info is not None and self._policy.is_secure(info.app, info.title)
        if info is not None and self._policy.is_designated(info.app, info.title):
            self._close_exclusion(t_ns)
            self._gate_open = True
            self.stats.recording_app = info.app
            self._emit(t_ns, ev.FOCUS, self._focus_data(info))
        elif self._gate_open or self._excluded_since is None:
            if self._gate_open:  # the designated screen as it was left
                self._frame(t_ns, "final", None, only_if_changed=True)
            self._gate_open = False
            self.stats.recording_app = None
            self._excluded_since = t_ns
            self._keys.reset()
            self._buttons_down.clear()

    def _retitle(self, t_ns: int, info: WindowInfo) -> None:
        """The window in front changed its title or URL, often because of the typing itself
        (an editor marks the document modified): the burst goes on; the new title is scanned
        and stored in order behind it. A burst begun in a password window stays secure."""
        if self._guard.held:
            self._guard.secret_typed |= self._secure_window
        self._secure_window = self._policy.is_secure(info.app, info.title)
        self.stats.recording_app = info.app
        self._emit(t_ns, ev.FOCUS, self._focus_data(info))

    def _focus_data(self, info: WindowInfo) -> dict[str, Any]:
        return {"app": info.app, "title": self._clean(info.title), "pid": info.pid,
                "geometry": list(info.geometry), "url": self._clean(info.url)}

    def _input(self, raw: RawInput, secret: bool = False) -> None:
        if self._hotkey is not None and raw.code in (KEY_PRESS, KEY_RELEASE) and self._toggle(raw):
            return
        covered = not self._leaf.layout.any_kept
        if covered != self._covered:
            self._cover(self._rel(raw.mono_ns), covered)
        if self.stats.paused:
            self.stats.inputs_paused += 1
            return
        if not self._gate_open or self._gate_closed_for_good:
            self.stats.inputs_excluded += 1
            return
        t = self._rel(raw.mono_ns)
        if raw.code in (KEY_PRESS, KEY_RELEASE):
            self._key(t, raw, secret)
        elif raw.code == BUTTON_RELEASE:
            if raw.detail in self._buttons_down:
                self._buttons_down.discard(raw.detail)
                self._emit(t, ev.MOUSE_UP, {"x": raw.x, "y": raw.y, "button": _BUTTONS[raw.detail]})
        elif not self._leaf.layout.designated_at(raw.x, raw.y):
            self.stats.inputs_excluded += 1
            if raw.code == BUTTON_PRESS:  # a click elsewhere ends the burst typed before it
                self._release()
        elif raw.code == MOTION:
            self._emit(t, ev.MOUSE_MOVE, {"x": raw.x, "y": raw.y})
        elif raw.code == BUTTON_PRESS and raw.detail in _SCROLL:
            self._release()
            if t - self._last_scroll_ns >= SCROLL_GAP_NS:
                self._frame(t, "pre_action", raw.server_ms)
            self._last_scroll_ns = t
            dx, dy = _SCROLL[raw.detail]
            self._emit(t, ev.SCROLL, {"x": raw.x, "y": raw.y, "dx": dx, "dy": dy})
        elif raw.code == BUTTON_PRESS and raw.detail in _BUTTONS:
            self._release()
            self._frame(t, "pre_action", raw.server_ms)
            self._buttons_down.add(raw.detail)
            self._last_key_ns = -TYPING_GAP_NS  # typing after a click is a new burst
            self._emit(t, ev.MOUSE_DOWN, {"x": raw.x, "y": raw.y, "button": _BUTTONS[raw.detail],
                                          "mods": self._keys.mods()})

    def _toggle(self, raw: RawInput) -> bool:
        """The pause hotkey: True when this key belongs to it and is not recorded."""
        assert self._hotkey is not None
        if self._hotkey.feed(raw.code, raw.detail, self._leaf.keymap.keysyms(raw.detail)):
            t = self._rel(raw.mono_ns)
            if self.stats.paused:
                self._resume(t)
            else:
                self._pause(t, None)
            self._swallowed.add(raw.detail)
            return True
        if raw.code == KEY_RELEASE and raw.detail in self._swallowed:
            self._swallowed.discard(raw.detail)
            return True
        return False

    def _cover(self, t: int, covered: bool) -> None:
        """A lock screen or full-screen prompt over every designated window: its focus is
        unchanged, but keys go to the cover, so capture stops as if focus had left."""
        self._covered = covered
        if covered:
            self._focus(t, None, keep_current=True)
        else:
            self._focus(t, self._current_focus)

    def _key(self, t: int, raw: RawInput, secret: bool) -> None:
        keysyms = self._leaf.keymap.keysyms(raw.detail)
        if raw.code == KEY_PRESS:
            key, char, mods = self._keys.press(raw.detail, keysyms)
            typing, enter = is_typing(key, char, mods), key in ("enter", "linefeed")
            if not typing:
                self._guard.secret_typed |= secret  # the burst this key ends was typed at a prompt
                self._release(enter=enter)
            self._key_frame(t, raw.server_ms, special=not typing, enter=enter)
            if typing:
                self._guard.secret_typed |= secret
            self._last_key_ns = t
            data = {"key": key, "char": char, "vk": raw.detail, "mods": mods}
            if typing:
                self._guard.hold(ev.Event(t_ns=t, kind=ev.KEY_DOWN, data=data))
            else:
                self._emit(t, ev.KEY_DOWN, data)
        elif self._keys.is_down(raw.detail):
            key, char, mods = self._keys.release(raw.detail, keysyms)
            if raw.detail in self._guard.suppress_up:  # its press went into a redacted burst
                self._guard.suppress_up.discard(raw.detail)
                return
            self._emit(t, ev.KEY_UP, {"key": key, "char": char, "vk": raw.detail, "mods": mods})

    def _key_frame(self, t: int, server_ms: int, *, special: bool, enter: bool) -> None:
        """The screen before a key: at the start of a burst, and, if it changed, before Enter
        or a chord (the text just typed) and before the first key after one (a new line or a
        prompt), at most every KEY_FRAME_GAP_NS so held arrow keys do not flood the redactor.
        The first key typed after Enter or a focus change into a terminal that a program (not
        the shell) holds always gets one: its last line may be a password prompt the burst
        answers, from ssh or anything else that reads keys raw."""
        focus = self._current_focus
        if self._guard.held and not self._guard.idle_flush_allowed:
            pass  # a password half typed: no frame until it is scanned
        elif self._after_enter and not special and focus is not None \
                and self._terminals.program_in_front(focus.pid):
            self._prompt_frame = self._frame(t, "pre_action", server_ms, prompt_window=Rect(*focus.geometry))
        elif t - self._last_key_ns >= TYPING_GAP_NS:
            if self._guard.held:  # the screen shows the burst so far: scan it first
                self._release(keep_line=True)
            self._frame(t, "pre_action", server_ms)
        elif (special or self._after_special) and t - self._last_frame_ns >= KEY_FRAME_GAP_NS:
            self._frame(t, "pre_action", server_ms, only_if_changed=True)
        self._after_special = special
        self._after_enter = enter or (self._after_enter and special)

    def _frame(self, t: int, reason: str, before_ms: int | None, *, only_if_changed: bool = False,
               prompt_window: Rect | None = None) -> int | None:
        self._last_frame_ns = t
        if not self._policy.frames or self.stats.frames_paused or not self._gate_open \
                or self._gate_closed_for_good:
            return None
        if not self._leaf.layout.any_kept:
            return None
        pixels, version = self._leaf.screen.snapshot(before_ms)
        if only_if_changed and version == self._frame_version:
            return None
        self._frame_version = version
        frame_id = self._writer.reserve_frame_id()
        kept = self._leaf.layout.visible_kept
        self._stage.submit(frame_id, t, pixels, kept, prompt_window)  # stored only once redacted
        self.stats.frames += 1
        box = union(kept)  # where designated pixels can be: the rest of the frame is black
        region = [box.x, box.y, box.width, box.height]
        self._emit(t, ev.FRAME, {"frame_id": frame_id, "reason": reason, "region": region})
        return frame_id
