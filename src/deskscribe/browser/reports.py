"""What the extension reports, checked before anything trusts it.

Messages arrive from a browser process; a bug or a hostile page must not crash the recorder
nor widen capture. Every field is type-checked and bounded here; anything that does not fit
the protocol is dropped whole (the caller counts it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from deskscribe.events import TARGET_EVENTS

PROTOCOL = 1
MAX_TEXT = 2000  # longest name or value kept from one report (titles are capped the same way)
SENSITIVE = frozenset({"password", "otp", "cc-number", "cc-csc"})
STATES = frozenset({"focused", "checked", "selected", "expanded", "disabled"})


@dataclass(frozen=True, slots=True)
class Viewport:
    x: float
    y: float
    width: float
    height: float
    dpr: float = 1.0
    zoom: float = 1.0


@dataclass(frozen=True, slots=True)
class Report:
    """The focused browser window as the extension sees it."""

    window_id: int
    focused: bool
    incognito: bool
    designated: bool
    bounds: tuple[int, int, int, int] | None
    url: str | None = None
    title: str | None = None
    viewport: Viewport | None = None


@dataclass(frozen=True, slots=True)
class TargetReport:
    """The element under a pointer down, or in focus for a key, change or scroll."""

    event: str
    t_ms: float
    window_id: int
    tag: str
    role: str | None
    name: str
    bbox: tuple[float, float, float, float] | None
    selector: str | None
    sensitive: str | None
    masked: bool
    states: tuple[str, ...]
    value: str | None = None  # a <select>'s chosen option text, on change only


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _rect(v: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(v, list) or len(v) != 4:
        return None
    nums = [_num(x) for x in v]
    if any(n is None for n in nums) or nums[2] < 0 or nums[3] < 0:  # type: ignore[operator]
        return None
    return (nums[0], nums[1], nums[2], nums[3])  # type: ignore[return-value]


def _str(v: Any, cap: int = MAX_TEXT) -> str | None:
    return v[:cap] if isinstance(v, str) else None


def _viewport(v: Any) -> Viewport | None:
    if not isinstance(v, dict):
        return None
    x, y, w, h = (_num(v.get(k)) for k in ("x", "y", "width", "height"))
    if x is None or y is None or w is None or h is None or w <= 0 or h <= 0:
        return None
    return Viewport(x, y, w, h, _num(v.get("dpr")) or 1.0, _num(v.get("zoom")) or 1.0)


def _window(m: dict[str, Any]) -> Report | None:
    wid = m.get("window_id")
    if not isinstance(wid, int) or not isinstance(m.get("focused"), bool):
        return None
    designated, incognito = m.get("designated") is True, m.get("incognito") is not False
    bounds = _rect(m.get("bounds"))
    url = _str(m.get("url")) if designated else None
    if designated and not (url and url.startswith(("http://", "https://"))):
        return None
    return Report(window_id=wid, focused=m["focused"], incognito=incognito, designated=designated,
                  bounds=None if bounds is None else (round(bounds[0]), round(bounds[1]),
                                                      round(bounds[2]), round(bounds[3])),
                  url=url, title=_str(m.get("title")) if designated else None,
                  viewport=_viewport(m.get("viewport")) if designated else None)


def _target(m: dict[str, Any]) -> TargetReport | None:
    t, event, wid = m.get("target"), m.get("event"), m.get("window_id")
    if not isinstance(t, dict) or event not in TARGET_EVENTS or not isinstance(wid, int):
        return None
    tag = _str(t.get("tag"), 32)
    if not tag:
        return None
    sensitive = t.get("sensitive") if t.get("sensitive") in SENSITIVE else None
    states = t.get("states")
    masked = t.get("masked") is True
    return TargetReport(
        event=event, t_ms=_num(m.get("t_ms")) or 0.0, window_id=wid, tag=tag.lower(),
        role=_str(t.get("role"), 64),
        name="" if masked else (_str(t.get("name")) or ""), bbox=_rect(t.get("bbox")),
        selector=_str(t.get("selector"), 512), sensitive=sensitive, masked=masked,
        states=tuple(s for s in states if s in STATES) if isinstance(states, list) else (),
        value=_str(m.get("value")) if event == "change" and tag.lower() == "select" and not masked
        and sensitive is None else None)


def parse_message(m: dict[str, Any]) -> Report | TargetReport | dict[str, Any] | None:
    """A checked report, the raw message for the kinds handled elsewhere (text, hello, ping,
    error), or None for anything that does not follow protocol version 1."""
    if m.get("v") != PROTOCOL or not isinstance(m.get("type"), str):
        return None
    kind = m["type"]
    if kind == "window":
        return _window(m)
    if kind == "target":
        return _target(m)
    if kind in ("text", "hello", "ping", "pong", "error"):
        return m
    return None
