"""The X11 leaf: input, focus, layout and the screen model behind the capture seam.

Two threads: RECORD input on its own connections, and one display thread that watches
focus, layout and damage and keeps the screen model fresh.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable

import mss
from Xlib import X, error
from Xlib.protocol.rq import Event

from deskscribe.capture.base import Layout, RawInput, Rect, WindowInfo
from deskscribe.capture.screen import ScreenModel
from deskscribe.capture.x11.damage import DamageStream
from deskscribe.capture.x11.desktop import (
    Monitor,
    desktop_pointer_settings,
    monitors,
    open_display,
    require_extensions,
    require_pixel_format,
)
from deskscribe.capture.x11.keymap import X11Keymap
from deskscribe.capture.x11.pixels import PixelReader
from deskscribe.capture.x11.record import RecordReader
from deskscribe.capture.x11.server_clock import ServerClock
from deskscribe.capture.x11.windows import WindowTracker
from deskscribe.capture.xsettings import PointerSettings
from deskscribe.errors import CaptureUnavailable
from deskscribe.geometry import clip_merge
from deskscribe.policy import Policy

# Damaged pixels are read once the screen has been quiet for SETTLE_MS (at most MAX_DELAY_MS
# after the first damage). Reads only keep the model fresh for the next action's pre-action
# frame, and people rarely act within 150 ms of a change they react to; when they do, the
# rollback yields a slightly older screen, never a post-action one. Shorter costs CPU per
# keystroke for no better frames.
SETTLE_MS = 150
MAX_DELAY_MS = 600
_LAYOUT_EVENTS = frozenset({X.MapNotify, X.UnmapNotify, X.ConfigureNotify, X.CreateNotify,
                            X.DestroyNotify, X.ReparentNotify, X.CirculateNotify})


class X11Leaf:
    """Focus, layout and screen model on one display connection and thread."""

    def __init__(self, *, display_name: str, policy: Policy,
                 mono_ns: Callable[[], int] = time.monotonic_ns,
                 page_area: Callable[[WindowInfo], Rect | None] = lambda info: None) -> None:
        self._name = display_name
        self._mono_ns = mono_ns
        self._disp = open_display(display_name)
        require_extensions(self._disp)
        require_pixel_format(self._disp)
        self._root = self._disp.screen().root
        geo = self._root.get_geometry()
        self.screen = ScreenModel(width=geo.width, height=geo.height)
        self.layout = Layout(geo.width, geo.height)
        self.keymap = X11Keymap(self._disp)
        self._windows = WindowTracker(disp=self._disp, policy=policy, page_area=page_area)
        self._relayout = False
        self._server_clock = ServerClock(mono_ns=mono_ns)
        self._wake_r, self._wake_w = os.pipe()
        self._ready = threading.Event()
        self._failure: str | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="deskscribe-display", daemon=True)
        self._input: RecordReader | None = None
        self._backlog: list[Event] = []
        self._last_focus: WindowInfo | None = None

    def monitors(self) -> list[Monitor]:
        return monitors(self._disp, self._name)

    def pointer_settings(self) -> PointerSettings:
        return desktop_pointer_settings(self._disp)

    def start(self, *, on_input: Callable[[list[RawInput]], None],
              on_focus: Callable[[int, WindowInfo | None], None],
              on_layout: Callable[[int], None] = lambda mono_ns: None) -> None:
        self._on_focus = on_focus
        self._on_layout = on_layout
        self._root.change_attributes(event_mask=X.PropertyChangeMask | X.SubstructureNotifyMask)
        self._damage = DamageStream(display_name=self._name)
        self._disp.sync()
        self._input = RecordReader(display_name=self._name, sink=on_input, mono_ns=self._mono_ns)
        self._thread.start()
        self._input.start()
        if not (self._ready.wait(10) and self._input.ready.wait(10)):
            raise CaptureUnavailable("the X server did not start delivering events within 10 s")
        if self.failure:
            raise CaptureUnavailable(self.failure)

    def stop(self) -> None:
        if self._input is not None:
            self._input.stop()
        self._stopping = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=3)
        self._damage.close()

    def relayout(self) -> None:
        """What a context source keeps of a window changed (a browser tab now shows another
        page): the layout and the pixels it keeps are read again."""
        self._relayout = True
        os.write(self._wake_w, b"r")

    @property
    def failure(self) -> str | None:
        """Why capture stopped on its own, if it did."""
        return self._failure or (self._input.failure if self._input is not None else None)

    # -- display thread -------------------------------------------------------------------

    def _now_ms(self) -> float:
        return self._mono_ns() / 1_000_000

    def _run(self) -> None:
        try:
            with mss.MSS(display=self._name) as sct:
                self._pixels = PixelReader(disp=self._disp, root=self._root, sct=sct)
                self._watch()
        except (error.ConnectionClosedError, OSError) as exc:
            self._failure = f"the X display closed ({exc})"
        except Exception as exc:  # surfaced to the recorder, never a silent stop
            self._failure = f"window tracking stopped: {exc!r}"
        finally:
            self._ready.set()

    def _watch(self) -> None:
        self._refresh_layout()
        self._refresh_focus()
        pending: list[Rect] = [Rect(0, 0, self.layout.width, self.layout.height)]
        if self._grab(pending):
            pending = []
        self._ready.set()
        first_ms = last_ms = 0.0
        while not self._stopping:
            timeout = None
            if pending:
                now = self._now_ms()
                timeout = max(0.0, min(last_ms + SETTLE_MS, first_ms + MAX_DELAY_MS) - now) / 1000
            readable, _, _ = select.select([self._disp, self._damage, self._wake_r], [], [], timeout)
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
            layout_dirty, focus_dirty, damaged = self._drain()
            if self._relayout:
                self._relayout, layout_dirty = False, True
            if self._damage in readable:
                rects, server_ms = self._damage.read()
                damaged.extend(rects)
                if server_ms:
                    self._server_clock.observe(server_ms)
            now = self._now_ms()
            if damaged:
                first_ms = first_ms if pending else now
                last_ms = now
                pending.extend(damaged)
            if layout_dirty and self._refresh_layout():
                first_ms = first_ms if pending else now
                last_ms = now
                pending = [Rect(0, 0, self.layout.width, self.layout.height)]
                self._on_layout(self._mono_ns())
            if focus_dirty or layout_dirty:
                self._refresh_focus()
            due = now >= last_ms + SETTLE_MS or now >= first_ms + MAX_DELAY_MS
            if pending and due and self._grab(pending):
                pending = []

    def _drain(self) -> tuple[bool, bool, list[Rect]]:
        layout_dirty = focus_dirty = False
        damaged: list[Rect] = []
        events, self._backlog = self._backlog, []
        events.extend(self._disp.next_event() for _ in range(self._disp.pending_events()))
        windows = self._windows
        for ev in events:
            if ev.type in _LAYOUT_EVENTS:
                layout_dirty = True
            elif ev.type == X.PropertyNotify:
                self._server_clock.observe(ev.time)
                if ev.atom in windows.name_atoms:
                    windows.retitled(ev.window.id)
                    layout_dirty = focus_dirty = True
                elif ev.atom in windows.identity_atoms:  # an app that names itself after mapping
                    windows.reidentified(ev.window.id)
                    layout_dirty = focus_dirty = True
                elif ev.atom == windows.active_atom:
                    focus_dirty = True
                elif ev.atom == windows.stacking_atom:
                    layout_dirty = True
            elif ev.type == X.MappingNotify and ev.request == X.MappingKeyboard:
                self.keymap.refresh(self._disp, ev.first_keycode, ev.count)
        return layout_dirty, focus_dirty, damaged

    def _grab(self, rects: list[Rect]) -> bool:
        """Read damaged pixels into the model; False when the layout changed meanwhile.

        The read is an ordering barrier (see PixelReader): every layout event the server
        generated before it is queued here once it returns, so no separate sync is needed.
        """
        layout = self.layout
        shots = self._pixels.read(clip_merge(rects, layout.width, layout.height))
        # Stamp with the server time after the read: a pre-action snapshot rolls back any
        # read that might already show the action's effect.
        t = self._server_clock.now_ms()
        self._backlog.extend(self._disp.next_event() for _ in range(self._disp.pending_events()))
        if any(e.type in _LAYOUT_EVENTS for e in self._backlog):
            return False
        mask = layout.mask()
        for r, bgra in shots:
            self.screen.patch(r.x, r.y, bgra,
                              mask[r.y:r.y + r.height, r.x:r.x + r.width], t)
        # A layout change that made the model stale also made the whole screen pending, so
        # this read, the first to succeed since, covered every kept pixel.
        self.screen.read_whole(t)
        return True

    def _refresh_layout(self) -> bool:
        """Re-read the window stack; True when what may be stored changed."""
        layout = self._windows.layout(self.layout.width, self.layout.height)
        if layout == self.layout:
            return False
        if layout.visible_kept != self.layout.visible_kept:  # stale before a frame can see it
            self.screen.stale()
        self.layout = layout
        return True

    def _refresh_focus(self) -> None:
        info = self._windows.focused()
        if info != self._last_focus:
            self._last_focus = info
            self._on_focus(self._mono_ns(), info)
