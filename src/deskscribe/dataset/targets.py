"""Which recorded target an action was aimed at.

Targets arrive as their own events, stamped when the page or the accessibility bus saw them,
not in the order of the input they belong to; so they are matched by time and place, not by
position in the stream. A click takes the pointer-down target closest in time whose box holds
the click point; typing and keys take the latest field focused or typed into before them; a
scroll the scroll target nearest in time. No match is no target, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deskscribe import events as ev
from deskscribe.dataset.actions import Action

POINTER_NS = 1_000_000_000  # a pointer target this far from its click is another click's
FIELD_NS = 60_000_000_000  # typing that long after the field got focus still goes into it
LATE_NS = 500_000_000  # the page may stamp a focus or key a little after the X event
SLACK_PX = 2

_POINTER = frozenset({"click", "drag", "long_press", "select"})
_TYPING = frozenset({"type", "key"})


@dataclass(frozen=True, slots=True)
class Recorded:
    t_ns: int
    data: dict[str, Any]


def recorded_targets(events: Sequence[tuple[int, ev.Event]]) -> list[Recorded]:
    return sorted((Recorded(e.t_ns, dict(e.data)) for _, e in events if e.kind == ev.TARGET),
                  key=lambda r: r.t_ns)


def target_for(action: Action, targets: Sequence[Recorded]) -> dict[str, Any] | None:
    if action.type in _POINTER and "x" in action.fields:
        x, y = int(action.fields["x"]), int(action.fields["y"])
        near = [r for r in targets if r.data["event"] == "pointerdown"
                and abs(r.t_ns - action.t_ns) <= POINTER_NS and _holds(r.data.get("bbox"), x, y)]
        return _closest(near, action.t_ns)
    if action.type in _TYPING:
        before = [r for r in targets if r.data["event"] in ("focus", "keydown")
                  and action.t_ns - FIELD_NS <= r.t_ns <= action.t_ns + LATE_NS]
        return dict(before[-1].data) if before else None
    if action.type == "scroll":
        near = [r for r in targets if r.data["event"] == "scroll" and abs(r.t_ns - action.t_ns) <= POINTER_NS]
        return _closest(near, action.t_ns)
    return None


def chosen_option(action: Action, targets: Sequence[Recorded]) -> str | None:
    """The option text a click on a ``<select>`` chose, from the ``change`` that followed it."""
    if action.type != "click":
        return None
    changes = [r for r in targets if r.data["event"] == "change" and "value" in r.data
               and 0 <= r.t_ns - action.t_ns <= FIELD_NS // 6]
    return str(changes[0].data["value"]) if changes else None


def _holds(bbox: Any, x: int, y: int) -> bool:
    if not isinstance(bbox, list) or len(bbox) != 4:
        return False
    bx, by, bw, bh = (float(v) for v in bbox)
    return bx - SLACK_PX <= x < bx + bw + SLACK_PX and by - SLACK_PX <= y < by + bh + SLACK_PX


def _closest(near: Sequence[Recorded], t_ns: int) -> dict[str, Any] | None:
    return dict(min(near, key=lambda r: abs(r.t_ns - t_ns)).data) if near else None
