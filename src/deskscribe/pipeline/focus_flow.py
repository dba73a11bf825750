"""Focus, cover and pause transitions: what opening and closing capture writes.

Opening capture on a designated window writes its focus event; leaving it writes the frame it
was left in and starts one ``excluded`` span, which is all that is stored of the time outside.
A retitled window keeps its burst going. Paused, not even the window in front is stored.
"""

from __future__ import annotations

from typing import Any

from deskscribe import events as ev
from deskscribe.capture.base import WindowInfo
from deskscribe.pipeline.stages import Stages

# Focus changes reach the pipeline after the X server made them (a few ms, more under load);
# keys held from this long before the notification are not attributed to the window that
# lost focus, since they may have gone to the new one.
FOCUS_SLACK_NS = 300_000_000
# A cover seen in the layout is known from the moment it was laid out (the leaf sees a map
# within milliseconds): keys before that went to the app, and a person types into a lock
# screen only once it shows. Keys from then on are the cover's.
COVER_SLACK_NS = 0


class FocusFlow:
    def __init__(self, *, stages: Stages) -> None:
        self._s = stages
        self.resume_at: int | None = None  # when a timed pause ends

    def end_exclusion(self, t_ns: int) -> None:
        ended = self._s.gate.end_exclusion(t_ns)
        if ended is not None:
            self._s.emit(ended.start_ns, ev.MARKER, {"marker": "excluded", "duration_ms": ended.duration_ms})

    def pause(self, t_ns: int, seconds: float | None) -> None:
        self.resume_at = None if seconds is None else t_ns + int(seconds * 1e9)
        if self._s.gate.paused:
            return
        self._s.typing.release()
        if self._s.gate.open:
            self._s.frames.take(t_ns, "final", None, only_if_changed=True)
        self.end_exclusion(t_ns)
        self._s.gate.pause()
        self._s.input_map.reset()
        self._s.emit(t_ns, ev.MARKER, {"marker": "pause", "for_s": seconds})

    def resume(self, t_ns: int) -> None:
        self.resume_at = None
        if not self._s.gate.paused:
            return
        self._s.gate.paused = False
        self._s.emit(t_ns, ev.MARKER, {"marker": "resume"})
        self.focus(t_ns, self._s.gate.window)  # the window in front now decides, as at start

    def focus(self, t_ns: int, info: WindowInfo | None, *, keep_current: bool = False,
              final_frame: bool = True, slack_ns: int = FOCUS_SLACK_NS) -> None:
        """``final_frame``: the screen still shows the designated window as it was left. Not so
        when a context source withdrew its vouching: the page in front may already be another."""
        before = self._s.gate.window
        if not keep_current:
            self._s.gate.window = info
        if self._s.gate.covered:
            info = None
        if self._s.gate.ignores_focus():
            return
        if self._s.gate.is_retitle(info, before):
            assert info is not None
            self._retitle(t_ns, info)
            return
        moved = info is None or not info.same_window(before)
        if moved:  # the newest held keys may belong to the window now in front
            self._s.counts.inputs_excluded += self._s.typing.guard.drop_keys_since(t_ns - slack_ns)
        self._s.typing.release()
        if moved:
            self._s.typing.new_window()
            self._s.schedule.new_window()
        self._s.gate.note_window(info)
        if info is not None and self._s.gate.designated(info):
            self.end_exclusion(t_ns)
            self._s.gate.open_for(info)
            self._s.emit(t_ns, ev.FOCUS, self._focus_data(info))
        elif self._s.gate.open or not self._s.gate.excluding:
            if self._s.gate.open and final_frame:  # the designated screen as it was left
                self._s.frames.take(t_ns, "final", None, only_if_changed=True)
            self._s.gate.close(t_ns)
            self._s.input_map.reset()

    def _retitle(self, t_ns: int, info: WindowInfo) -> None:
        """The window in front changed its title or URL, often because of the typing itself
        (an editor marks the document modified): the burst goes on; the new title is scanned
        and stored in order behind it. A burst begun in a password window stays secure."""
        if self._s.typing.held:
            self._s.typing.guard.secret_typed |= self._s.gate.secure_window
        self._s.gate.note_window(info)
        self._s.gate.app = info.app
        self._s.emit(t_ns, ev.FOCUS, self._focus_data(info))

    def _focus_data(self, info: WindowInfo) -> dict[str, Any]:
        url = self._s.contexts.designated_page(info) or info.url
        return {"app": info.app, "title": self._s.titles.clean(info.title), "pid": info.pid,
                "geometry": list(info.geometry), "url": self._s.titles.clean(url)}

    def check_cover(self, t: int, slack_ns: int = FOCUS_SLACK_NS) -> None:
        """Asked on every input and, at the time it was laid out, on every layout change
        (``any_kept`` is computed once per layout)."""
        covered = not self._s.leaf.layout.any_kept
        if covered != self._s.gate.covered:
            self.cover(t, covered, slack_ns)

    def cover(self, t: int, covered: bool, slack_ns: int = FOCUS_SLACK_NS) -> None:
        """A lock screen or full-screen prompt over every designated window: its focus is
        unchanged, but keys go to the cover, so capture stops as if focus had left."""
        self._s.gate.covered = covered
        if covered:
            self.focus(t, None, keep_current=True, slack_ns=slack_ns)
        else:
            self.focus(t, self._s.gate.window)
