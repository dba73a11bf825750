"""Raw event contract: what the recorder captures, before any interpretation.

Every stored item is an :class:`Event` (monotonic ns since session start plus a kind and a
small payload) inside a session described by :class:`SessionMeta`. Both carry
``SCHEMA_VERSION`` so later readers can migrate deliberately.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from deskscribe.errors import SchemaError

# 2 added the ``text`` kind; 3 added ``mods`` (modifiers held) to ``mouse_down``; 4 added the
# ``target`` kind. Older sessions read unchanged: their clicks carry no modifiers, their steps
# no targets.
SCHEMA_VERSION: Final = 4

MOUSE_MOVE: Final = "mouse_move"
MOUSE_DOWN: Final = "mouse_down"
MOUSE_UP: Final = "mouse_up"
SCROLL: Final = "scroll"
KEY_DOWN: Final = "key_down"
KEY_UP: Final = "key_up"
FOCUS: Final = "focus"
FRAME: Final = "frame"
MARKER: Final = "marker"
TEXT: Final = "text"  # a redacted typing burst: placeholders, no keys, start/end only
TARGET: Final = "target"  # the element under a pointer down, or in focus for a key or change

KINDS: Final = frozenset(
    {MOUSE_MOVE, MOUSE_DOWN, MOUSE_UP, SCROLL, KEY_DOWN, KEY_UP, FOCUS, FRAME, MARKER, TEXT, TARGET}
)

# Fields each kind must carry; extra fields are allowed and ignored by old readers.
REQUIRED_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    MOUSE_MOVE: frozenset({"x", "y"}),
    MOUSE_DOWN: frozenset({"x", "y", "button"}),
    MOUSE_UP: frozenset({"x", "y", "button"}),
    SCROLL: frozenset({"x", "y", "dx", "dy"}),
    KEY_DOWN: frozenset({"key", "char", "vk", "mods"}),
    KEY_UP: frozenset({"key", "char", "vk", "mods"}),
    FOCUS: frozenset({"app", "title", "pid", "geometry", "url"}),
    FRAME: frozenset({"frame_id", "region", "reason"}),
    MARKER: frozenset({"marker"}),
    TEXT: frozenset({"text", "kinds", "secure", "erase", "t_end_ns"}),
    TARGET: frozenset({"source", "event", "role", "name", "bbox", "states"}),
}
TARGET_EVENTS: Final = frozenset({"pointerdown", "focus", "keydown", "change", "scroll"})

MARKERS: Final = frozenset(
    {"start", "stop", "pause", "resume", "excluded", "task_start", "task_end", "frames_off",
     "frames_on", "withdraw"}
)
FRAME_REASONS: Final = frozenset({"pre_action", "periodic", "final"})
BUTTONS: Final = ("left", "middle", "right", "back", "forward")
MODIFIERS: Final = ("shift", "ctrl", "alt", "super", "altgr", "caps_lock")


@dataclass(frozen=True, slots=True)
class Event:
    """One captured fact. ``t_ns`` is monotonic nanoseconds since the session's start."""

    t_ns: int
    kind: str
    data: Mapping[str, Any]

    def to_json(self, event_id: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "t_ns": self.t_ns, **self.data}
        if event_id is not None:
            out = {"id": event_id, **out}
        return out


def validate(event: Event) -> Event:
    """Reject events that break the contract, so a bad capture leaf fails loudly in tests."""
    if event.kind not in KINDS:
        raise SchemaError(f"unknown event kind {event.kind!r}")
    if event.t_ns < 0:
        raise SchemaError(f"negative timestamp in {event.kind}")
    missing = REQUIRED_FIELDS[event.kind] - event.data.keys()
    if missing:
        raise SchemaError(f"{event.kind} lacks {sorted(missing)}")
    if event.kind == MARKER and event.data["marker"] not in MARKERS:
        raise SchemaError(f"unknown marker {event.data['marker']!r}")
    if event.kind == FRAME and event.data["reason"] not in FRAME_REASONS:
        raise SchemaError(f"unknown frame reason {event.data['reason']!r}")
    if event.kind in (MOUSE_DOWN, MOUSE_UP) and event.data["button"] not in BUTTONS:
        raise SchemaError(f"unknown button {event.data['button']!r}")
    if event.kind == TARGET and event.data["event"] not in TARGET_EVENTS:
        raise SchemaError(f"unknown target event {event.data['event']!r}")
    mods = set(event.data.get("mods", ()))
    if event.kind in (KEY_DOWN, KEY_UP, MOUSE_DOWN) and not mods <= set(MODIFIERS):
        raise SchemaError(f"unknown modifiers {sorted(mods - set(MODIFIERS))}")
    return event


@dataclass(frozen=True, slots=True)
class Monitor:
    x: int
    y: int
    width: int
    height: int
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class SessionMeta:
    """Describes a session without identifying the person: no hostname, MAC or user name."""

    session_id: str
    contributor_id: str
    started_wall_ns: int
    os: str
    monitors: tuple[Monitor, ...]
    double_click_ms: int
    double_click_px: int
    policy_version: str
    recorder_version: str
    notice_version: str | None = None
    schema_version: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["monitors"] = [dataclasses.asdict(m) for m in self.monitors]
        out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SessionMeta:
        if raw.get("schema_version") not in range(1, SCHEMA_VERSION + 1):
            raise SchemaError(f"session schema {raw.get('schema_version')} is not {SCHEMA_VERSION}")
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in raw.items() if k in fields}
        values["monitors"] = tuple(Monitor(**m) for m in raw["monitors"])
        return cls(**values)


def os_description() -> str:
    """OS family and release only; ``platform.node()`` (the hostname) is never read."""
    return f"{platform.system()} {platform.release()}".strip()
