"""Sealed sessions written from scripted events, for tests that build datasets from them."""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from typing import Any

from PIL import Image

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta, validate
from deskscribe.frame_codec import FramePart, FrameRecord

MS = 1_000_000
Item = tuple[int, str, dict[str, Any]]  # (ms since the session started, kind, data)


def png(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, format="PNG")
    return buf.getvalue()


def record(dd: DataDir, items: Sequence[Item], *, contributor: str = "c", screen: tuple[int, int] = (1000, 500),
           dropped: Collection[int] = ()) -> str:
    """A sealed session of ``items``. Each ``frame`` item is numbered in order from 1 and its
    screenshot stored, unless its number is in ``dropped`` (the recorder dropped it)."""
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=contributor, started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, *screen),), double_click_ms=400, double_click_px=5,
                              policy_version="p1", recorder_version="r1"))
    for t, kind, data in items:
        if kind == "frame":
            frame_id = w.reserve_frame_id()
            data = {"frame_id": frame_id, "region": [0, 0, *screen], "reason": "pre_action"}
            if frame_id not in dropped:
                w.add_frame(FrameRecord(frame_id, t * MS, None, screen, (FramePart(0, 0, *screen, png(screen)),)))
        w.add_event(validate(Event(t_ns=t * MS, kind=kind, data=data)))
    w.close(seal=True)
    return sid


def frame(t: int) -> list[Item]:
    return [(t, "frame", {})]


def focus(t: int, app: str, title: str, url: str | None = None) -> list[Item]:
    return [(t, "focus", {"app": app, "title": title, "pid": 1, "geometry": [0, 0, 400, 300], "url": url})]


def click(t: int, x: int, y: int) -> list[Item]:
    return [(t, "mouse_down", {"x": x, "y": y, "button": "left"}),
            (t + 50, "mouse_up", {"x": x, "y": y, "button": "left"})]


def key(t: int, name: str, char: str | None = None) -> list[Item]:
    return [(t, "key_down", {"key": name, "char": char, "vk": 1, "mods": []}),
            (t + 30, "key_up", {"key": name, "char": char, "vk": 1, "mods": []})]


def typed(t: int, text: str) -> list[Item]:
    return [item for i, c in enumerate(text) for item in key(t + 100 * i, c, c)]


def redacted_text(t: int, text: str, kinds: list[str]) -> list[Item]:
    """A typing burst the recorder replaced."""
    return [(t, "text", {"text": text, "kinds": kinds, "secure": False, "erase": 0, "t_end_ns": (t + 300) * MS})]


def marker(t: int, name: str, **data: Any) -> list[Item]:
    return [(t, "marker", {"marker": name, **data})]


def target(t: int, bbox: list[int], name: str = "Send") -> list[Item]:
    return [(t, "target", {"source": "browser", "event": "pointerdown", "role": "button", "name": name,
                           "bbox": bbox, "states": [], "tag": "button", "selector": "#send"})]
