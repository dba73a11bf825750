"""Coordinate systems an export can write a point or box in.

Actions and targets are recorded as fractions of the screen; an export may keep them
(`fraction`), turn them back into pixels of the recorded screen (`pixel`: what pyautogui
executes there), or put them on the 0-1000 integer grid that Qwen-VL and UI-TARS (1.0) read and
write (`1000`). Pixels are recovered by rounding: a build stores ``round(px / size, 6)``, so
``round(frac * size)`` is the recorded pixel on any screen narrower than 10^6 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

COORDS: Final = ("fraction", "pixel", "1000")
GRID: Final = 1000

Number = float | int


@dataclass(frozen=True, slots=True)
class Scale:
    system: str = "fraction"
    screen: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        if self.system not in COORDS:
            raise ValueError(f"coords must be one of {', '.join(COORDS)}, not {self.system!r}")

    def _value(self, frac: float, size: int, *, edge: bool) -> Number:
        if self.system == "pixel":
            # a point lies on a pixel (the last is size - 1); a box edge may be the screen's
            return min(max(round(frac * size), 0), size if edge else size - 1)
        if self.system == "1000":
            return min(max(round(frac * GRID), 0), GRID)
        return frac

    def point(self, a: dict[str, Any], x: str = "x", y: str = "y") -> tuple[Number, Number]:
        w, h = self.screen
        return self._value(a[x], w, edge=False), self._value(a[y], h, edge=False)

    def box(self, bbox: list[float]) -> list[Number]:
        """``[left, top, right, bottom]`` fractions in this system."""
        w, h = self.screen
        return [self._value(v, size, edge=True) for v, size in zip(bbox, (w, h, w, h), strict=True)]

    def text(self, value: Number) -> str:
        """A value as code writes it: fractions with four decimals, others as integers."""
        return f"{value:.4f}" if self.system == "fraction" else str(int(value))
