"""The RECORD data-connection parser, fed the byte layouts the X server sends."""

import struct

from deskscribe.capture._x11 import _Input
from deskscribe.capture.base import BUTTON_PRESS, KEY_PRESS, RawInput


def reply(category: int, payload: bytes = b"") -> bytes:
    return struct.pack("=BBHIBB2xIII8x", 1, category, 7, len(payload) // 4, 0, 0, 0, 0, 0) + payload


def core_event(code: int, detail: int, ms: int, x: int, y: int) -> bytes:
    return struct.pack("=BBHIIIIhhhhHBx", code, detail, 0, ms, 1, 1, 0, x, y, x, y, 0, 1)


def parser() -> tuple[_Input, list[RawInput]]:
    got: list[RawInput] = []
    inp = _Input.__new__(_Input)  # parsing needs no X connection
    inp._sink = got.extend  # type: ignore[method-assign]
    import threading
    inp.ready = threading.Event()
    return inp, got


def test_events_in_replies_are_decoded_and_other_packets_skipped() -> None:
    inp, got = parser()
    mapping_notify = bytes([34]) + bytes(31)
    stream = (reply(4) + mapping_notify + reply(0, core_event(KEY_PRESS, 38, 1000, 5, 6)
                                                 + core_event(BUTTON_PRESS, 1, 1001, 7, 8)))
    rest, ended = inp._parse(stream)
    assert rest == b"" and not ended and inp.ready.is_set()
    assert [(r.code, r.detail, r.server_ms, r.x, r.y) for r in got] == [
        (KEY_PRESS, 38, 1000, 5, 6), (BUTTON_PRESS, 1, 1001, 7, 8)]


def test_partial_packets_wait_for_the_rest() -> None:
    inp, got = parser()
    stream = reply(0, core_event(KEY_PRESS, 38, 1, 0, 0))
    rest, _ = inp._parse(stream[:40])
    assert rest == stream[:40] and got == []
    rest, _ = inp._parse(rest + stream[40:])
    assert rest == b"" and len(got) == 1


def test_end_of_data_ends_the_stream() -> None:
    inp, _ = parser()
    assert inp._parse(reply(5))[1] is True
