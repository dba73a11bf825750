"""Where the screen changed: DamageNotify events on a connection of their own."""

from __future__ import annotations

import contextlib
import struct
from typing import NamedTuple

from Xlib import display, error
from Xlib.ext import damage

from deskscribe.capture.base import Rect

_DAMAGE_NOTIFY = struct.Struct("=BBHIIIhhHH")


class DamageChunk(NamedTuple):
    """The damaged rectangles in one read, the latest server time among them (0 for none),
    and the bytes of an event not yet complete."""

    rects: list[Rect]
    server_ms: int
    rest: bytes


def parse_damage(buf: bytes, notify_code: int) -> DamageChunk:
    """The DamageNotify events (code ``notify_code``) among the whole 32-byte events of ``buf``."""
    usable = len(buf) - len(buf) % 32
    rects, last_ms = [], 0
    for off in range(0, usable, 32):
        if buf[off] & 0x7F == notify_code:
            _, _, _, _, _, ms, x, y, w, h = _DAMAGE_NOTIFY.unpack_from(buf, off)
            rects.append(Rect(x, y, w, h))
            last_ms = ms
    return DamageChunk(rects, last_ms, buf[usable:])


class DamageStream:
    """Reads its connection's socket directly, a select()able source of damaged rectangles.

    Every redraw of a designated app produces a few DamageNotify events; python-xlib's generic
    event parser costs ~100 µs each, a struct unpack ~2 µs. Only damage events (plus the
    broadcast MappingNotify, skipped) ever arrive here because nothing else is requested on it.
    """

    def __init__(self, *, display_name: str) -> None:
        self._disp = display.Display(display_name)
        self._disp.damage_query_version()  # DAMAGE refuses requests before version negotiation
        self._disp.screen().root.damage_create(damage.DamageReportRawRectangles)
        self._type = int(self._disp.extension_event.DamageNotify)
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
        rects, server_ms, self._buf = parse_damage(self._buf + chunk, self._type)
        return rects, server_ms

    def close(self) -> None:
        with contextlib.suppress(error.ConnectionClosedError, OSError):
            self._disp.close()
