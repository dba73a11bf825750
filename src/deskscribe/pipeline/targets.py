"""Targets as they are written: the element each action was aimed at, its label scanned like a
window title, and only while the window it was seen in is recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deskscribe import events as ev
from deskscribe.context import Target
from deskscribe.pipeline.stages import Stages


def target_data(t: Target, clean: Callable[[str | None], str | None]) -> dict[str, Any]:
    """The event payload; a label, selector or chosen option can hold an e-mail address or a
    name, so each goes through the title scanner first."""
    box = t.bbox
    data: dict[str, Any] = {"source": t.source, "event": t.event, "role": t.role, "name": clean(t.name) or "",
                            "bbox": None if box is None else [box.x, box.y, box.width, box.height],
                            "states": list(t.states)}
    if t.tag is not None:
        data["tag"] = t.tag
    if t.selector is not None:
        data["selector"] = clean(t.selector)
    if t.value is not None:
        data["value"] = clean(t.value)
    return data


def write_targets(s: Stages, rel: Callable[[int], int]) -> None:
    """Take the sources' targets for the window in front; write them only while it is
    recorded (a target seen while paused or excluded is dropped, not kept for later)."""
    window = s.gate.window
    if window is None:
        return
    targets = s.contexts.take_targets(window)
    if not targets or not s.gate.capturing:
        return
    for t in targets:
        s.emit(rel(t.mono_ns), ev.TARGET, target_data(t, s.titles.clean))
