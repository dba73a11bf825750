"""The step viewer shared by the contributor's review app and the collector console: one
step as the page draws it (the screenshot, and the action over it as fractions of the image).

Both callers hold actions shaped like the exports' (``Action.normalised`` and
``export_target``), so a built dataset's rows and a local session's steps render alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from deskscribe.dataset.actions import Action

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")


@dataclass(frozen=True, slots=True)
class StepView:
    index: int                      # 1-based step number, as `review show` numbers steps
    action: str                     # the Step's action type (click, drag, scroll, type, key, ...)
    x: float | None                 # action point as fractions 0..1 of the image
    y: float | None
    path: tuple[tuple[float, float], ...]   # drag/move path, fractions
    button: str | None
    scroll: tuple[int, int] | None  # dx, dy
    caption: str | None             # typed text or keys, already as the export has it
    target_box: tuple[float, float, float, float] | None   # x0, y0, x1, y1 fractions
    target_label: str | None        # role and name of the target
    image_url: str
    thumb_url: str
    width: int
    height: int

    @property
    def summary(self) -> str:
        """One line for the caption bar."""
        if self.action == "terminate":
            return self.caption or "end of episode"
        words = [self.action]
        if self.button and self.button != "left":
            words.append(self.button)
        if self.scroll is not None:
            words.append(scroll_direction(*self.scroll))
        if self.caption:
            words.append(repr(self.caption))
        if self.target_label:
            words.append(f"on {self.target_label}")
        return " ".join(words)


def scroll_direction(dx: int, dy: int) -> str:
    """Wheel steps as words; positive dy is down, as the recorder stores it."""
    parts = [f"{'down' if dy > 0 else 'up'} {abs(dy)}"] if dy else []
    if dx:
        parts.append(f"{'right' if dx > 0 else 'left'} {abs(dx)}")
    return ", ".join(parts) or "none"


def _fraction(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(max(float(value), 0.0), 1.0)
    return None


def caption(action: Mapping[str, Any]) -> str | None:
    """What a person typed or pressed, or chose, as text under the picture."""
    kind = action.get("type")
    if kind == "type":
        return str(action.get("text", ""))
    if kind == "key":
        return "+".join(map(str, action.get("keys") or ()))
    if kind == "select":
        return str(action.get("value", ""))
    if kind == "terminate":
        return f"end of episode ({action.get('status', 'unknown')})"
    keys = action.get("keys")
    if kind in ("click", "drag", "long_press") and keys:
        return "held " + "+".join(map(str, keys))
    return None


def target_parts(target: Mapping[str, Any] | None) -> tuple[tuple[float, float, float, float] | None,
                                                           str | None]:
    """The export's target: its box as x0, y0, x1, y1 fractions, and "role name" as a label."""
    if not target:
        return None, None
    box = target.get("bbox")
    corners = tuple(_fraction(v) for v in box) if isinstance(box, list | tuple) and len(box) == 4 else ()
    clean = tuple(v for v in corners if v is not None)
    label = " ".join(str(target[k]) for k in ("role", "name") if target.get(k)) or None
    return (clean if len(clean) == 4 else None), label


def step_view(index: int, action: Mapping[str, Any], target: Mapping[str, Any] | None = None, *,
              image_url: str, thumb_url: str, width: int, height: int,
              path: Sequence[tuple[float, float]] = ()) -> StepView:
    """A step from an export-shaped action (coordinates already fractions) and target."""
    kind = str(action.get("type", ""))
    x, y = _fraction(action.get("x")), _fraction(action.get("y"))
    line = tuple((min(max(px, 0.0), 1.0), min(max(py, 0.0), 1.0)) for px, py in path)
    x2, y2 = _fraction(action.get("x2")), _fraction(action.get("y2"))
    if kind == "drag" and x is not None and y is not None and x2 is not None and y2 is not None:
        line = ((x, y), *line[1:], (x2, y2)) if line else ((x, y), (x2, y2))
    scroll = (int(action.get("dx") or 0), int(action.get("dy") or 0)) if kind == "scroll" else None
    button = action.get("button")
    box, label = target_parts(target)
    return StepView(index=index, action=kind, x=x, y=y, path=line,
                    button=None if button is None else str(button), scroll=scroll,
                    caption=caption(action), target_box=box, target_label=label,
                    image_url=image_url, thumb_url=thumb_url, width=width, height=height)


def action_path(action: Action, width: int, height: int) -> tuple[tuple[float, float], ...]:
    """A recorded action's pointer path (pixels, with times) as fractions of the screen."""
    return tuple((px / width, py / height) for px, py, _ in action.path)


def templates(*extra_dirs: Path) -> Jinja2Templates:
    """The viewer's templates, with a caller's own directories searched first (the console
    adds its pages this way and extends ``base.html``)."""
    loader = ChoiceLoader([FileSystemLoader([*map(str, extra_dirs)]), FileSystemLoader(str(TEMPLATES_DIR))])
    out = Jinja2Templates(directory=str(TEMPLATES_DIR))
    out.env.loader = loader
    out.env.globals["scroll_direction"] = scroll_direction
    return out
