"""The RECORD data-connection parser, fed the byte layouts the X server sends."""

import struct

from deskscribe.capture.base import BUTTON_PRESS, KEY_PRESS, MOTION
from deskscribe.capture.x11.record import parse_record


def reply(category: int, payload: bytes = b"") -> bytes:
    return struct.pack("=BBHIBB2xIII8x", 1, category, 7, len(payload) // 4, 0, 0, 0, 0, 0) + payload


def core_event(code: int, detail: int, ms: int, x: int, y: int) -> bytes:
    return struct.pack("=BBHIIIIhhhhHBx", code, detail, 0, ms, 1, 1, 0, x, y, x, y, 0, 1)


def test_events_in_replies_are_decoded_and_other_packets_skipped() -> None:
    mapping_notify = bytes([34]) + bytes(31)
    stream = (reply(4) + mapping_notify + reply(0, core_event(KEY_PRESS, 38, 1000, 5, 6)
                                                 + core_event(BUTTON_PRESS, 1, 1001, 7, 8)))
    got = parse_record(stream, 0)
    assert got.rest == b"" and not got.ended and got.started
    assert [(r.code, r.detail, r.server_ms, r.x, r.y) for r in got.events] == [
        (KEY_PRESS, 38, 1000, 5, 6), (BUTTON_PRESS, 1, 1001, 7, 8)]


def test_partial_packets_wait_for_the_rest() -> None:
    stream = reply(0, core_event(KEY_PRESS, 38, 1, 0, 0))
    first = parse_record(stream[:40], 0)
    assert first.rest == stream[:40] and first.events == []
    second = parse_record(first.rest + stream[40:], 0)
    assert second.rest == b"" and len(second.events) == 1


def test_end_of_data_ends_the_stream() -> None:
    assert parse_record(reply(5), 0).ended is True


def test_events_carry_the_receipt_time_and_drop_the_synthetic_bit() -> None:
    got = parse_record(reply(0, core_event(MOTION | 0x80, 0, 7, -3, 4)), 123)
    assert got.events == [(MOTION, 0, 7, -3, 4, 123)]


def test_events_before_end_of_data_are_kept_and_what_follows_is_dropped() -> None:
    stream = reply(0, core_event(KEY_PRESS, 38, 1, 0, 0)) + reply(5) + reply(0, core_event(KEY_PRESS, 39, 2, 0, 0))
    got = parse_record(stream, 0)
    assert got.ended and got.rest == b"" and [r.detail for r in got.events] == [38]


def test_byte_swapped_replies_are_skipped() -> None:
    swapped = struct.pack("=BBHIBB2xIII8x", 1, 0, 7, 8, 0, 1, 0, 0, 0) + core_event(KEY_PRESS, 38, 1, 0, 0)
    got = parse_record(swapped, 0)
    assert got.events == [] and got.rest == b"" and not got.started
