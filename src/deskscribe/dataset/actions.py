"""The Action contract: what an agent learns to do, independent of how it was recorded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

ACTION_TYPES: Final = frozenset(
    {"click", "move", "drag", "scroll", "type", "key", "select", "long_press", "wait", "terminate"})

# Raw-event key names -> pyautogui key names.
PYAUTOGUI_KEYS: Final[Mapping[str, str]] = {
    "ctrl_r": "ctrl", "shift_r": "shift", "alt_r": "alt", "win_r": "win", "altgr": "altright",
    "page_up": "pageup", "page_down": "pagedown", "caps_lock": "capslock", "num_lock": "numlock",
    "scroll_lock": "scrolllock", "print_screen": "printscreen", "menu": "apps", "super": "win",
}
MODIFIER_ORDER: Final = ("ctrl", "alt", "shift", "win", "altright")


def pyautogui_key(name: str) -> str:
    return PYAUTOGUI_KEYS.get(name, name)


@dataclass(frozen=True, slots=True)
class Action:
    """One action in absolute screen pixels; ``event_ids`` point back to the raw events."""

    type: str
    t_ns: int
    t_end_ns: int
    fields: Mapping[str, Any]
    event_ids: tuple[int, ...]
    path: tuple[tuple[int, int, int], ...] = field(default=())  # (x, y, ms before the action)

    def normalised(self, width: int, height: int) -> dict[str, Any]:
        """Fields with coordinates in [0, 1] of the screen; exporters scale from here."""
        out = {"type": self.type, **self.fields}
        for key, size in (("x", width), ("x2", width), ("y", height), ("y2", height)):
            if key in out:
                out[key] = round(min(max(out[key] / size, 0.0), 1.0), 6)
        return out
