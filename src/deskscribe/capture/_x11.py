"""X11 leaf: RECORD for input, EWMH + DAMAGE for focus, layout and screen changes.

Input is read with the RECORD extension directly rather than through pynput's listener
because the recorder needs each event's X server timestamp (pynput drops it) to order input
against screen damage, wants pointer and keys in one stream, and has a CPU budget of a few
microseconds per event: a 32-byte struct unpack instead of python-xlib's generic parser.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import mss
import numpy as np
from Xlib import X, Xatom, display, error
from Xlib.ext import damage, ge, record

from deskscribe.capture.base import Layout, RawInput, Rect, WindowInfo
from deskscribe.capture.screen import ScreenModel
from deskscribe.capture.xsettings import (
    PointerSettings,
    parse_xsettings,
    pointer_settings,
    scale_from_resources,
)
from deskscribe.errors import CaptureUnavailable
from deskscribe.policy import Policy

_EVENT = struct.Struct("=BBHIIIIhhhhHBx")
# Damaged pixels are read once the screen has been quiet for SETTLE_MS (at most MAX_DELAY_MS
# after the first damage). Reads only keep the model fresh for the next action's pre-action
# frame, and people rarely act within 150 ms of a change they react to; when they do, the
# rollback yields a slightly older screen, never a post-action one. Shorter costs CPU per
# keystroke for no better frames.
SETTLE_MS = 150
MAX_DELAY_MS = 600
CLOCK_MARGIN_MS = 5
BIG_READ_PIXELS = 256 * 256
_LAYOUT_EVENTS = frozenset({X.MapNotify, X.UnmapNotify, X.ConfigureNotify, X.CreateNotify,
                            X.DestroyNotify, X.ReparentNotify, X.CirculateNotify})


def open_display(name: str) -> display.Display:
    try:
        return display.Display(name)
    except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
        raise CaptureUnavailable(f"cannot open X display {name}: {exc}") from None


def require_pixel_format(disp: display.Display) -> None:
    """Frames are read as 32-bit little-endian BGRX, the format of every 24-bit desktop."""
    screen = disp.screen()
    fmt = next((f for f in disp.display.info.pixmap_formats if f.depth == screen.root_depth), None)
    if screen.root_depth != 24 or fmt is None or fmt.bits_per_pixel != 32 \
            or disp.display.info.image_byte_order != X.LSBFirst:
        raise CaptureUnavailable(f"unsupported screen format (depth {screen.root_depth});"
                                 " run the X server at 24-bit colour depth")


def require_extensions(disp: display.Display) -> None:
    for ext, why in (("RECORD", "input capture"), ("DAMAGE", "screen change tracking")):
        if not disp.has_extension(ext):
            raise CaptureUnavailable(f"the X server lacks the {ext} extension needed for {why};"
                                     " enable it in the server configuration")
    supported = disp.screen().root.get_full_property(
        disp.intern_atom("_NET_SUPPORTED"), Xatom.ATOM)
    if supported is None or disp.intern_atom("_NET_ACTIVE_WINDOW") not in supported.value:
        raise CaptureUnavailable("the window manager does not publish _NET_ACTIVE_WINDOW;"
                                 " run an EWMH window manager (openbox, xfwm4, mutter, kwin)")


class X11Keymap:
    def __init__(self, disp: display.Display) -> None:
        self._map: dict[int, tuple[int, ...]] = {}
        self.refresh(disp)

    def refresh(self, disp: display.Display, first: int | None = None, count: int | None = None) -> None:
        """Re-read keycodes [first, first+count); all of them by default."""
        if first is None or count is None:
            first = disp.display.info.min_keycode
            count = disp.display.info.max_keycode - first + 1
        rows = disp.get_keyboard_mapping(first, count)
        updated = dict(self._map)
        updated.update({first + i: tuple(r) for i, r in enumerate(rows)})
        self._map = updated  # swapped whole: the pipeline thread reads it without a lock

    def keysyms(self, keycode: int) -> Sequence[int]:
        return self._map.get(keycode, ())


_REPLY_HEAD = struct.Struct("=BBHIBB2xIII8x")
_START_OF_DATA, _FROM_SERVER, _END_OF_DATA = record.StartOfData, record.FromServer, record.EndOfData


class _Input(threading.Thread):
    """Reads the RECORD data connection's socket itself once the context is enabled.

    python-xlib parses every RECORD reply through its generic request machinery (~300 µs of
    CPU per reply); the reply layout is fixed (32-byte header, then 32-byte core events), so a
    struct unpack does the same work in a few µs. python-xlib still creates and frees the context.
    """

    def __init__(self, name: str, sink: Callable[[list[RawInput]], None]) -> None:
        super().__init__(name="deskscribe-input", daemon=True)
        self._rec = display.Display(name)
        self._ctl = display.Display(name)
        self._sink = sink
        self.ready = threading.Event()
        self.failure: str | None = None
        self._ended = False
        self._ctx = self._ctl.record_create_context(0, [record.AllClients], [{
            "core_requests": (0, 0), "core_replies": (0, 0), "ext_requests": (0, 0, 0, 0),
            "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
            "device_events": (X.KeyPress, X.MotionNotify), "errors": (0, 0),
            "client_started": False, "client_died": False}])
        self._ctl.sync()

    def run(self) -> None:
        try:
            self._read()
        except Exception as exc:  # surfaced to the recorder as the leaf's failure
            self.failure = f"input capture stopped: {exc}"
        else:
            if not self._ended:
                self.failure = "the X display closed"

    def _read(self) -> None:
        sock = self._rec.display.socket
        opcode = self._rec.display.get_extension_major(record.extname)
        sock.sendall(struct.pack("=BBHI", opcode, 5, 2, self._ctx))  # RecordEnableContext
        buf = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk
            buf, self._ended = self._parse(buf)
            if self._ended:
                return

    def _parse(self, buf: bytes) -> tuple[bytes, bool]:
        now = time.monotonic_ns()
        batch: list[RawInput] = []
        pos = 0
        while len(buf) - pos >= 32:
            kind, category, _, length, _, swapped, _, _, _ = _REPLY_HEAD.unpack_from(buf, pos)
            # Replies and generic events carry a length; other events and errors (e.g. the
            # MappingNotify every client receives) are exactly 32 bytes.
            end = pos + 32 + (4 * length if kind in (1, ge.GenericEventCode) else 0)
            if len(buf) < end:
                break
            if kind == 1 and category == _FROM_SERVER and not swapped:
                for off in range(pos + 32, end - 31, 32):
                    code, detail, _, ms, _, _, _, rx, ry, _, _, _, _ = _EVENT.unpack_from(buf, off)
                    batch.append(RawInput(code & 0x7F, detail, ms, rx, ry, now))
            elif kind == 1 and category == _START_OF_DATA:
                self.ready.set()
            elif kind == 1 and category == _END_OF_DATA:
                if batch:
                    self._sink(batch)
                return b"", True
            pos = end
        if batch:
            self._sink(batch)
        return buf[pos:], False

    def stop(self) -> None:
        with contextlib.suppress(error.ConnectionClosedError, OSError):  # display may be gone
            self._ctl.record_disable_context(self._ctx)
            self._ctl.sync()
        self.join(timeout=2)
        with contextlib.suppress(error.ConnectionClosedError, OSError):
            self._ctl.record_free_context(self._ctx)
            self._ctl.close()
            self._rec.close()


_DAMAGE_NOTIFY = struct.Struct("=BBHIIIhhHH")


class _DamageStream:
    """DamageNotify events on a connection of their own, read from its socket directly.

    Every redraw of a designated app produces a few of these; python-xlib's generic event
    parser costs ~100 µs each, a struct unpack ~2 µs. Only damage events (plus the broadcast
    MappingNotify, skipped) ever arrive here because nothing else is requested on it.
    """

    def __init__(self, name: str) -> None:
        self._disp = display.Display(name)
        self._disp.damage_query_version()  # DAMAGE refuses requests before version negotiation
        self._disp.screen().root.damage_create(damage.DamageReportRawRectangles)
        self._type = self._disp.extension_event.DamageNotify
        self._disp.sync()
        self._sock = self._disp.display.socket
        self._buf = b""

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def read(self) -> tuple[list[Rect], int]:
        """Damaged rectangles now readable, and the latest server time among them."""
        chunk = self._sock.recv(65536)
        if not chunk:
            raise error.ConnectionClosedError("damage connection")
        buf = self._buf + chunk
        usable = len(buf) - len(buf) % 32
        rects, last_ms = [], 0
        for off in range(0, usable, 32):
            if buf[off] & 0x7F == self._type:
                _, _, _, _, _, ms, x, y, w, h = _DAMAGE_NOTIFY.unpack_from(buf, off)
                rects.append(Rect(x, y, w, h))
                last_ms = ms
        self._buf = buf[usable:]
        return rects, last_ms

    def close(self) -> None:
        with contextlib.suppress(error.ConnectionClosedError, OSError):
            self._disp.close()


class X11Leaf:
    """Focus, layout and screen model on one display connection and thread."""

    def __init__(self, *, display_name: str, policy: Policy) -> None:
        self._name = display_name
        self._policy = policy
        self._disp = open_display(display_name)
        require_extensions(self._disp)
        require_pixel_format(self._disp)
        self._root = self._disp.screen().root
        geo = self._root.get_geometry()
        self.screen = ScreenModel(width=geo.width, height=geo.height)
        self.layout = Layout(geo.width, geo.height)
        self.keymap = X11Keymap(self._disp)
        self._atoms = {n: self._disp.intern_atom(n) for n in (
            "_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "WM_NAME", "_NET_WM_PID", "WM_STATE",
            "_NET_CLIENT_LIST_STACKING", "UTF8_STRING")}
        self._clients: dict[int, int | None] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._ready = threading.Event()
        self._failure: str | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="deskscribe-display", daemon=True)
        self._input: _Input | None = None
        self._offset_ms = -(1 << 62)
        self._backlog: list[Any] = []
        self._titles: dict[int, str | None] = {}
        self._apps: dict[int, tuple[str | None, int | None]] = {}
        self._last_focus: WindowInfo | None = None
        self._name_atoms = (self._atoms["_NET_WM_NAME"], self._atoms["WM_NAME"])

    def monitors(self) -> list[tuple[int, int, int, int, float]]:
        resources = self._root.get_full_property(Xatom.RESOURCE_MANAGER, Xatom.STRING)
        text = resources.value.decode("utf-8", "replace") if resources is not None else ""
        scale = scale_from_resources(text)
        with mss.MSS(display=self._name) as sct:
            mons = sct.monitors[1:] or sct.monitors[:1]
            return [(m["left"], m["top"], m["width"], m["height"], scale) for m in mons]

    def pointer_settings(self) -> PointerSettings:
        """Double-click time/distance from the XSETTINGS manager, when one runs."""
        selection = self._disp.intern_atom(f"_XSETTINGS_S{self._disp.get_default_screen()}")
        owner = self._disp.get_selection_owner(selection)
        prop = None
        if owner:
            with contextlib.suppress(error.BadWindow):
                prop = owner.get_full_property(self._disp.intern_atom("_XSETTINGS_SETTINGS"),
                                               X.AnyPropertyType)
        blob = bytes(prop.value) if prop is not None and isinstance(prop.value, bytes | bytearray) else b""
        return pointer_settings(parse_xsettings(blob))

    def start(self, *, on_input: Callable[[list[RawInput]], None],
              on_focus: Callable[[int, WindowInfo | None], None]) -> None:
        self._on_focus = on_focus
        self._root.change_attributes(event_mask=X.PropertyChangeMask | X.SubstructureNotifyMask)
        self._damage = _DamageStream(self._name)
        self._disp.sync()
        self._input = _Input(self._name, on_input)
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

    # -- display thread -------------------------------------------------------------------

    def _observe_time(self, server_ms: int) -> None:
        """Track the X server clock: offset = max(server - receipt), a tight lower bound."""
        self._offset_ms = max(self._offset_ms, server_ms - time.monotonic_ns() // 1_000_000)

    def _server_now(self) -> int:
        """Estimated X server time, for screen reads that carry no timestamp."""
        return time.monotonic_ns() // 1_000_000 + self._offset_ms + CLOCK_MARGIN_MS

    @property
    def failure(self) -> str | None:
        """Why capture stopped on its own, if it did."""
        return self._failure or (self._input.failure if self._input is not None else None)

    def _run(self) -> None:
        try:
            with mss.MSS(display=self._name) as sct:
                self._sct = sct
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
                now = time.monotonic() * 1000
                timeout = max(0.0, min(last_ms + SETTLE_MS, first_ms + MAX_DELAY_MS) - now) / 1000
            readable, _, _ = select.select([self._disp, self._damage, self._wake_r], [], [], timeout)
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
            layout_dirty, focus_dirty, damaged = self._drain()
            if self._damage in readable:
                rects, server_ms = self._damage.read()
                damaged.extend(rects)
                if server_ms:
                    self._observe_time(server_ms)
            now = time.monotonic() * 1000
            if damaged:
                first_ms = first_ms if pending else now
                last_ms = now
                pending.extend(damaged)
            if layout_dirty and self._refresh_layout():
                first_ms = first_ms if pending else now
                last_ms = now
                pending = [Rect(0, 0, self.layout.width, self.layout.height)]
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
        for ev in events:
            if ev.type in _LAYOUT_EVENTS:
                layout_dirty = True
            elif ev.type == X.PropertyNotify:
                self._observe_time(ev.time)
                if ev.atom in self._name_atoms:
                    self._titles.pop(ev.window.id, None)
                    layout_dirty = focus_dirty = True
                elif ev.atom == self._atoms["_NET_ACTIVE_WINDOW"]:
                    focus_dirty = True
                elif ev.atom == self._atoms["_NET_CLIENT_LIST_STACKING"]:
                    layout_dirty = True
            elif ev.type == X.MappingNotify and ev.request == X.MappingKeyboard:
                self.keymap.refresh(self._disp, ev.first_keycode, ev.count)
        return layout_dirty, focus_dirty, damaged

    def _grab(self, rects: list[Rect]) -> bool:
        """Read damaged pixels into the model; False when the layout changed meanwhile.

        Pixels are read with GetImage on this same connection (not mss): its reply is the
        ordering barrier, since every layout event the server generated before the read is
        queued here before the reply arrives. That makes a separate sync unnecessary.
        """
        layout = self.layout
        shots = []
        boxes = _clip_merge(rects, layout.width, layout.height)
        for r in boxes:
            if r.width * r.height > BIG_READ_PIXELS:  # mss reads large areas 4x faster
                data = self._sct.grab({"left": r.x, "top": r.y, "width": r.width, "height": r.height}).bgra
            else:
                data = self._root.get_image(r.x, r.y, r.width, r.height, X.ZPixmap, 0xFFFFFFFF).data
            shots.append((r, np.frombuffer(data, np.uint8).reshape(r.height, r.width, 4)))
        if any(r.width * r.height > BIG_READ_PIXELS for r in boxes):
            self._disp.sync()  # mss used its own connection: this round trip is the barrier
        # Stamp with the server time after the read: a pre-action snapshot rolls back any
        # read that might already show the action's effect.
        t = self._server_now()
        self._backlog.extend(self._disp.next_event() for _ in range(self._disp.pending_events()))
        if any(e.type in _LAYOUT_EVENTS for e in self._backlog):
            return False
        mask = layout.mask()
        for r, bgra in shots:
            self.screen.patch(r.x, r.y, bgra,
                              mask[r.y:r.y + r.height, r.x:r.x + r.width], t)
        return True

    def _text(self, win: Any, atom: str) -> str | None:
        prop = win.get_full_property(self._atoms[atom], X.AnyPropertyType)
        if prop is None:
            return None
        value = prop.value
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def _client_of(self, win: Any) -> Any:
        """The application window inside a top-level (WM frame or override-redirect)."""
        wid = win.id
        if wid not in self._clients:
            self._clients[wid] = self._find_client(win, depth=2)
        cid = self._clients[wid]
        return None if cid is None else self._disp.create_resource_object("window", cid)

    def _find_client(self, win: Any, depth: int) -> int | None:
        if win.get_wm_class() is not None or win.get_full_property(
                self._atoms["WM_STATE"], X.AnyPropertyType) is not None:
            win.change_attributes(event_mask=X.PropertyChangeMask)
            return int(win.id)
        if depth == 0:
            return None
        for child in win.query_tree().children:
            found = self._find_client(child, depth - 1)
            if found is not None:
                return found
        return None

    def _identity(self, client: Any) -> tuple[str | None, str | None, int | None]:
        """(app, title, pid), cached until the window's name changes."""
        cid = int(client.id)
        if cid not in self._apps:
            wm_class = client.get_wm_class()
            pid = client.get_full_property(self._atoms["_NET_WM_PID"], Xatom.CARDINAL)
            self._apps[cid] = (wm_class[1] if wm_class else None,
                               int(pid.value[0]) if pid else None)
        if cid not in self._titles:
            self._titles[cid] = self._text(client, "_NET_WM_NAME") or self._text(client, "WM_NAME")
        app, pid_value = self._apps[cid]
        return app, self._titles[cid], pid_value

    def _window_info(self, client: Any) -> WindowInfo:
        app, title, pid = self._identity(client)
        geo = client.get_geometry()
        pos = self._root.translate_coords(client, 0, 0)
        return WindowInfo(app=app, title=title, pid=pid,
                          geometry=(pos.x, pos.y, geo.width, geo.height), window=int(client.id))

    def _refresh_layout(self) -> bool:
        """Re-read the window stack; True when what may be stored changed."""
        windows = []
        for top in self._root.query_tree().children:
            try:
                if top.get_attributes().map_state != X.IsViewable:
                    continue
                geo = top.get_geometry()
                client = self._client_of(top)
                keep = False
                if client is not None:
                    app, title, _ = self._identity(client)
                    keep = self._policy.is_designated(app, title)
                b = geo.border_width
                windows.append((Rect(geo.x, geo.y, geo.width + 2 * b, geo.height + 2 * b), False))
                if keep and client is not None:
                    # Only the app's own area is kept: the window manager's title bar shows the
                    # raw title, which is stored (redacted) as text instead.
                    cgeo = client.get_geometry()
                    pos = self._root.translate_coords(client, 0, 0)
                    windows.append((Rect(pos.x, pos.y, cgeo.width, cgeo.height), True))
            except (error.BadWindow, error.BadDrawable, error.BadMatch):
                continue  # gone while we looked: it is not visible
        layout = Layout(self.layout.width, self.layout.height, tuple(windows))
        if layout == self.layout:
            return False
        self.layout = layout
        return True

    def _refresh_focus(self) -> None:
        prop = self._root.get_full_property(self._atoms["_NET_ACTIVE_WINDOW"], Xatom.WINDOW)
        info = None
        if prop is not None and len(prop.value) and prop.value[0]:
            try:
                win = self._disp.create_resource_object("window", int(prop.value[0]))
                info = self._window_info(win)
            except (error.BadWindow, error.BadDrawable, error.BadMatch):
                info = None
        if info != self._last_focus:
            self._last_focus = info
            self._on_focus(time.monotonic_ns(), info)


def _clip_merge(rects: list[Rect], width: int, height: int) -> list[Rect]:
    """Clip to the screen and merge into few boxes; many scattered rects become one."""
    clipped = []
    for r in rects:
        x0, y0 = max(r.x, 0), max(r.y, 0)
        x1, y1 = min(r.x + r.width, width), min(r.y + r.height, height)
        if x1 > x0 and y1 > y0:
            clipped.append(Rect(x0, y0, x1 - x0, y1 - y0))
    merged: list[Rect] = []
    for r in sorted(clipped, key=lambda r: (r.y, r.x)):
        for i, m in enumerate(merged):
            if r.x <= m.x + m.width and m.x <= r.x + r.width and r.y <= m.y + m.height \
                    and m.y <= r.y + r.height:
                x0, y0 = min(r.x, m.x), min(r.y, m.y)
                merged[i] = Rect(x0, y0, max(r.x + r.width, m.x + m.width) - x0,
                                 max(r.y + r.height, m.y + m.height) - y0)
                break
        else:
            merged.append(r)
    if len(merged) > 8:
        x0, y0 = min(m.x for m in merged), min(m.y for m in merged)
        x1 = max(m.x + m.width for m in merged)
        y1 = max(m.y + m.height for m in merged)
        merged = [Rect(x0, y0, x1 - x0, y1 - y0)]
    return merged
