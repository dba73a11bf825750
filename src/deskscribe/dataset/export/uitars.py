"""Actions as UI-TARS writes them: its desktop action space (``click(start_box='(x,y)')``,
``left_double``, ``right_single``, ``drag``, ``hotkey(key='ctrl c')``, ``type(content=...)``,
``scroll(..., direction=...)``, ``wait()``, ``finished()``, ``call_user()``), one call per
action; several calls for one step are separated by a blank line, as UI-TARS's action parser
splits them.

What that space lacks is written with the names UI-TARS's parser and its other action spaces
use: ``hover`` for a move, ``keydown``/``keyup`` around a press made with modifiers held,
``long_press(start_box=..., time=...)`` (seconds) from its mobile space, and
``middle_click`` (``back_click``, ``forward_click``) for the other buttons. A triple click is a
``left_double`` and a ``click`` at the same point; a drop-down choice is a click and the option
typed with a trailing newline (a browser's type-ahead picks it, Enter commits it). A scroll keeps
its direction only (UI-TARS scrolls have no amount); an episode ends with ``finished()``, or
``call_user()`` when the person ended the task as failed.
"""

from __future__ import annotations

from typing import Any, Final

from deskscribe.dataset.export.coords import Scale
from deskscribe.dataset.export.outcome import FAILED

CALLS: Final = frozenset({
    "click", "left_double", "right_single", "middle_click", "back_click", "forward_click", "hover", "drag",
    "scroll", "type", "hotkey", "keydown", "keyup", "long_press", "wait", "finished", "call_user"})


def literal(text: str) -> str:
    """A single-quoted Python string, the form UI-TARS's parser reads with ``ast``."""
    body = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{body}'"


def _box(scale: Scale, a: dict[str, Any], x: str = "x", y: str = "y") -> str:
    px, py = scale.point(a, x, y)
    return f"'({scale.text(px)},{scale.text(py)})'"


def to_uitars(a: dict[str, Any], scale: Scale) -> str:
    keys: list[str] = [] if a["type"] == "key" else list(a.get("keys") or [])
    calls = [*(f"keydown(key={literal(k)})" for k in keys), *_calls(a, scale),
             *(f"keyup(key={literal(k)})" for k in reversed(keys))]
    return "\n\n".join(calls)


def _clicks(a: dict[str, Any], box: str) -> list[str]:
    button, count = a.get("button", "left"), int(a.get("count", 1))
    if button == "left":
        return {1: [f"click(start_box={box})"], 2: [f"left_double(start_box={box})"],
                3: [f"left_double(start_box={box})", f"click(start_box={box})"]}[count]
    name = "right_single" if button == "right" else f"{button}_click"
    return [f"{name}(start_box={box})"] * count


def _scrolls(a: dict[str, Any], box: str) -> list[str]:
    dx, dy = int(a.get("dx") or 0), int(a.get("dy") or 0)
    out = []
    if dy:
        out.append(f"scroll(start_box={box}, direction='{'up' if dy > 0 else 'down'}')")
    if dx:
        out.append(f"scroll(start_box={box}, direction='{'right' if dx > 0 else 'left'}')")
    return out or [f"hover(start_box={box})"]


def _calls(a: dict[str, Any], scale: Scale) -> list[str]:
    kind = a["type"]
    if kind == "click":
        return _clicks(a, _box(scale, a))
    if kind == "move":
        return [f"hover(start_box={_box(scale, a)})"]
    if kind == "drag":
        return [f"drag(start_box={_box(scale, a)}, end_box={_box(scale, a, 'x2', 'y2')})"]
    if kind == "scroll":
        return _scrolls(a, _box(scale, a))
    if kind == "type":
        return [f"type(content={literal(a['text'])})"]
    if kind == "key":
        return [f"hotkey(key={literal(' '.join(a['keys']))})"]
    if kind == "select":
        option = literal(a["value"] + "\n")
        return [f"click(start_box={_box(scale, a)})", f"type(content={option})"]
    if kind == "long_press":
        return [f"long_press(start_box={_box(scale, a)}, time='{a['ms'] / 1000:g}')"]
    if kind == "wait":
        return ["wait()"]
    if kind == "terminate":
        return ["call_user()" if a["status"] in FAILED else "finished()"]
    raise ValueError(f"no UI-TARS form for action {kind!r}")
