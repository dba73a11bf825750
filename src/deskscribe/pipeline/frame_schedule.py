"""When a screenshot is due: before actions, before keys that change what the screen means, and
periodically when the screen changed. Pure timing decisions; the pipeline takes the frame.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

TYPING_GAP_NS = 1_000_000_000  # keys this far apart start a new burst, which gets its own frame
SCROLL_GAP_NS = 500_000_000  # a scroll burst gets one frame, before its first notch
KEY_FRAME_GAP_NS = 250_000_000  # at most this often before Enter and chords: held arrows do not flood


class KeyFrame(enum.Enum):
    NONE = "none"
    PROMPT = "prompt"  # the screen may show a password prompt the next burst answers: read it
    NEW_BURST = "new_burst"  # scan the burst so far (the screen shows it), then take a frame
    IF_CHANGED = "if_changed"  # before Enter or a chord, or the key after one, if the screen changed


class FrameScheduler:
    def __init__(self, *, interval_ns: int) -> None:
        self.interval_ns = interval_ns
        self.last_frame_ns = 0
        self.last_key_ns = -TYPING_GAP_NS
        self._last_scroll_ns = -SCROLL_GAP_NS
        self._version = -1
        self._after_special = False
        self._after_enter = True  # the next key may answer a prompt already on screen

    @property
    def periodic_due_ns(self) -> int:
        return self.last_frame_ns + self.interval_ns

    def taken(self, t_ns: int) -> None:
        """A frame was asked for at ``t_ns`` (taken or not): the periodic timer restarts."""
        self.last_frame_ns = t_ns

    def changed(self, version: int) -> bool:
        """The screen model's version differs from the last frame's; remembers this one."""
        if version == self._version:
            return False
        self._version = version
        return True

    def new_window(self) -> None:
        self._after_enter = True

    def click(self) -> None:
        self.last_key_ns = -TYPING_GAP_NS  # typing after a click is a new burst

    def scroll(self, t_ns: int) -> bool:
        """True when this notch begins a scroll burst, which gets a pre-action frame."""
        due = t_ns - self._last_scroll_ns >= SCROLL_GAP_NS
        self._last_scroll_ns = t_ns
        return due

    def key(self, t_ns: int, *, special: bool, enter: bool, password_pending: bool,
            prompt_possible: Callable[[], bool]) -> KeyFrame:
        """The frame before a key: at the start of a burst, and, if it changed, before Enter or
        a chord (the text just typed) and before the first key after one (a new line or a
        prompt). A password half typed gets none until it is scanned. The first key typed after
        Enter or a focus change into a window where a prompt is possible always gets one: its
        last line may be a password prompt the burst answers."""
        if password_pending:
            decision = KeyFrame.NONE
        elif self._after_enter and not special and prompt_possible():
            decision = KeyFrame.PROMPT
        elif t_ns - self.last_key_ns >= TYPING_GAP_NS:
            decision = KeyFrame.NEW_BURST
        elif (special or self._after_special) and t_ns - self.last_frame_ns >= KEY_FRAME_GAP_NS:
            decision = KeyFrame.IF_CHANGED
        else:
            decision = KeyFrame.NONE
        self._after_special = special
        self._after_enter = enter or (self._after_enter and special)
        return decision

    def key_done(self, t_ns: int) -> None:
        self.last_key_ns = t_ns
