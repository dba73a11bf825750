"""Input after the gate: pointer events over designated pixels, keys into the typing stage,
and the pre-action frames they are due.

Whatever the gate does not let through is only counted. A click elsewhere, a scroll or a
special key ends the typing burst before it, so no burst spans two fields.
"""

from __future__ import annotations

from deskscribe import events as ev
from deskscribe.capture.base import (
    BUTTON_PRESS,
    BUTTON_RELEASE,
    KEY_PRESS,
    KEY_RELEASE,
    MOTION,
    RawInput,
    Rect,
)
from deskscribe.pipeline.focus_flow import FocusFlow
from deskscribe.pipeline.frame_schedule import KeyFrame
from deskscribe.pipeline.hotkey_filter import HotkeyFilter
from deskscribe.pipeline.input_map import BUTTONS, SCROLL
from deskscribe.pipeline.stages import Stages


class InputFlow:
    def __init__(self, *, stages: Stages, focus: FocusFlow, hotkey: HotkeyFilter, t0_ns: int) -> None:
        self._s = stages
        self._focus = focus
        self._hotkey = hotkey
        self._t0 = t0_ns

    def input(self, raw: RawInput, secret: bool = False) -> None:
        """One raw input; ``secret``: the window read a secret when it arrived (echo off)."""
        t = max(0, raw.mono_ns - self._t0)
        toggle, swallow = self._hotkey.feed(raw)
        if toggle:
            if self._s.gate.paused:
                self._focus.resume(t)
            else:
                self._focus.pause(t, None)
        if swallow:
            return
        self._focus.check_cover(t)
        if self._s.gate.paused:
            self._s.counts.inputs_paused += 1
            return
        if not self._s.gate.capturing:
            self._s.counts.inputs_excluded += 1
            return
        if raw.code in (KEY_PRESS, KEY_RELEASE):
            self._key(t, raw, secret)
        elif raw.code == BUTTON_RELEASE:
            up = self._s.input_map.button_up(raw)
            if up is not None:
                if self._s.gate.window is not None:  # a widget may change its state on the release
                    self._s.contexts.action(self._s.gate.window, "pointerup", raw.x, raw.y, raw.mono_ns)
                self._s.emit(t, ev.MOUSE_UP, up)
        elif not self._s.leaf.layout.designated_at(raw.x, raw.y):
            self._s.counts.inputs_excluded += 1
            if raw.code == BUTTON_PRESS:  # a click elsewhere ends the burst typed before it
                self._s.typing.release()
        elif raw.code == MOTION:
            self._s.emit(t, ev.MOUSE_MOVE, self._s.input_map.motion(raw))
        elif raw.code == BUTTON_PRESS and raw.detail in SCROLL:
            self._s.typing.release()
            if self._s.gate.window is not None:  # the text shown moves: a described frame waits
                self._s.contexts.action(self._s.gate.window, "scroll", raw.x, raw.y, raw.mono_ns)
            if self._s.schedule.scroll(t):
                self._s.frames.take(t, "pre_action", raw.server_ms)
            self._s.emit(t, ev.SCROLL, self._s.input_map.scroll(raw))
        elif raw.code == BUTTON_PRESS and raw.detail in BUTTONS:
            self._s.typing.release()
            if self._s.gate.window is not None:  # the lookup starts before the app acts on the press
                self._s.contexts.action(self._s.gate.window, "pointerdown", raw.x, raw.y, raw.mono_ns)
            self._s.frames.take(t, "pre_action", raw.server_ms)
            self._s.schedule.click()
            self._s.emit(t, ev.MOUSE_DOWN, self._s.input_map.button_down(raw))

    def _key(self, t: int, raw: RawInput, secret: bool) -> None:
        keysyms = self._s.leaf.keymap.keysyms(raw.detail)
        if raw.code == KEY_PRESS:
            if self._s.gate.window is not None:  # the text shown may change
                self._s.contexts.action(self._s.gate.window, "keydown", 0, 0, raw.mono_ns)
            key = self._s.input_map.press(raw, keysyms)
            typing = key.typing
            if not typing:
                self._s.typing.guard.secret_typed |= secret  # the burst this key ends was typed at a prompt
                self._s.typing.release(enter=key.enter)
            self._key_frame(t, raw.server_ms, special=not typing, enter=key.enter)
            if typing:
                self._s.typing.guard.secret_typed |= secret
            self._s.schedule.key_done(t)
            if typing:
                self._s.typing.hold(ev.Event(t_ns=t, kind=ev.KEY_DOWN, data=key.data()))
            else:
                self._s.emit(t, ev.KEY_DOWN, key.data())
            return
        up = self._s.input_map.release(raw, keysyms)
        if up is None:
            return
        if raw.detail in self._s.typing.guard.suppress_up:  # its press went into a redacted burst
            self._s.typing.guard.suppress_up.discard(raw.detail)
            return
        self._s.emit(t, ev.KEY_UP, up)

    def _key_frame(self, t: int, server_ms: int, *, special: bool, enter: bool) -> None:
        focus = self._s.gate.window
        decision = self._s.schedule.key(t, special=special, enter=enter,
                                      password_pending=self._s.typing.password_pending,
                                      prompt_possible=lambda: self._s.contexts.prompt_possible(focus))
        match decision:
            case KeyFrame.PROMPT:
                assert focus is not None
                self._s.typing.prompt_frame = self._s.frames.take(t, "pre_action", server_ms,
                                                              prompt_window=Rect(*focus.geometry))
            case KeyFrame.NEW_BURST:
                if self._s.typing.held:  # the screen shows the burst so far: scan it first
                    self._s.typing.release(keep_line=True)
                self._s.frames.take(t, "pre_action", server_ms)
            case KeyFrame.IF_CHANGED:
                self._s.frames.take(t, "pre_action", server_ms, only_if_changed=True)
            case KeyFrame.NONE:
                pass
