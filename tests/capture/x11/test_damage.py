"""DamageNotify parsing, fed the 32-byte events the damage connection receives."""

import struct

from deskscribe.capture.base import Rect
from deskscribe.capture.x11.damage import parse_damage

NOTIFY = 91


def notify(ms: int, x: int, y: int, w: int, h: int, code: int = NOTIFY) -> bytes:
    return struct.pack("=BBHIIIhhHH", code, 0, 0, 0, 0, ms, x, y, w, h) + bytes(8)


def test_damage_rects_and_the_latest_time_are_read_and_other_events_skipped() -> None:
    mapping_notify = bytes([34]) + bytes(31)
    got = parse_damage(notify(10, 1, 2, 3, 4) + mapping_notify + notify(12, 5, 6, 7, 8, NOTIFY | 0x80), NOTIFY)
    assert got.rects == [Rect(1, 2, 3, 4), Rect(5, 6, 7, 8)] and got.server_ms == 12 and got.rest == b""


def test_a_partial_event_is_kept_for_the_next_read() -> None:
    data = notify(10, 1, 2, 3, 4) + notify(11, 0, 0, 1, 1)
    first = parse_damage(data[:50], NOTIFY)
    assert first.rects == [Rect(1, 2, 3, 4)] and first.rest == data[32:50]
    second = parse_damage(first.rest + data[50:], NOTIFY)
    assert second.rects == [Rect(0, 0, 1, 1)] and second.server_ms == 11 and second.rest == b""


def test_no_damage_means_no_time() -> None:
    assert parse_damage(bytes([34]) + bytes(31), NOTIFY).server_ms == 0
