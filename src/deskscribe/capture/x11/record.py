"""Input from the RECORD extension: the reply parser and the thread that feeds it.

Input is read with RECORD directly rather than through pynput's listener because the recorder
needs each event's X server timestamp (pynput drops it) to order input against screen damage,
wants pointer and keys in one stream, and has a CPU budget of a few microseconds per event:
a 32-byte struct unpack instead of python-xlib's generic parser.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from Xlib import X, display, error
from Xlib.ext import ge, record

from deskscribe.capture.base import RawInput

_EVENT = struct.Struct("=BBHIIIIhhhhHBx")
_REPLY_HEAD = struct.Struct("=BBHIBB2xIII8x")
_START_OF_DATA, _FROM_SERVER, _END_OF_DATA = record.StartOfData, record.FromServer, record.EndOfData
_GENERIC_EVENT = ge.GenericEventCode


class RecordChunk(NamedTuple):
    """What one read of the data connection yielded, and the bytes left for the next."""

    events: list[RawInput]
    rest: bytes
    started: bool  # START_OF_DATA seen: the server now delivers every input
    ended: bool  # END_OF_DATA seen: the context was disabled, nothing more follows


def parse_record(buf: bytes, mono_ns: int) -> RecordChunk:
    """Core input events in the complete RECORD replies of ``buf``, each stamped ``mono_ns``."""
    batch: list[RawInput] = []
    started = False
    pos = 0
    while len(buf) - pos >= 32:
        kind, category, _, length, _, swapped, _, _, _ = _REPLY_HEAD.unpack_from(buf, pos)
        # Replies and generic events carry a length; other events and errors (e.g. the
        # MappingNotify every client receives) are exactly 32 bytes.
        end = pos + 32 + (4 * length if kind in (1, _GENERIC_EVENT) else 0)
        if len(buf) < end:
            break
        if kind == 1 and category == _FROM_SERVER and not swapped:
            for off in range(pos + 32, end - 31, 32):
                code, detail, _, ms, _, _, _, rx, ry, _, _, _, _ = _EVENT.unpack_from(buf, off)
                batch.append(RawInput(code & 0x7F, detail, ms, rx, ry, mono_ns))
        elif kind == 1 and category == _START_OF_DATA:
            started = True
        elif kind == 1 and category == _END_OF_DATA:
            return RecordChunk(batch, b"", started, True)
        pos = end
    return RecordChunk(batch, buf[pos:], started, False)


class RecordReader(threading.Thread):
    """Reads the RECORD data connection's socket itself once the context is enabled.

    python-xlib parses every RECORD reply through its generic request machinery (~300 µs of
    CPU per reply); the reply layout is fixed (32-byte header, then 32-byte core events), so a
    struct unpack does the same work in a few µs. python-xlib still creates and frees the context.
    """

    def __init__(self, *, display_name: str, sink: Callable[[list[RawInput]], None],
                 mono_ns: Callable[[], int] = time.monotonic_ns) -> None:
        super().__init__(name="deskscribe-input", daemon=True)
        self._rec = display.Display(display_name)
        self._ctl = display.Display(display_name)
        self._sink = sink
        self._mono_ns = mono_ns
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
            events, buf, started, self._ended = parse_record(buf + chunk, self._mono_ns())
            if started:
                self.ready.set()
            if events:
                self._sink(events)
            if self._ended:
                return

    def stop(self) -> None:
        with contextlib.suppress(error.ConnectionClosedError, OSError):  # display may be gone
            self._ctl.record_disable_context(self._ctx)
            self._ctl.sync()
        self.join(timeout=2)
        with contextlib.suppress(error.ConnectionClosedError, OSError):
            self._ctl.record_free_context(self._ctx)
            self._ctl.close()
            self._rec.close()
