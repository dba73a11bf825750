"""`chat`: conversations for fine-tuning GUI agents, each step's target as an action string.

Each record: the screenshot, the instruction and the previous actions as the human turn, the
next action as the model turn: pyautogui code (`pyautogui.click(x=0.4114, y=0.3607)`) or, with
``style="uitars"``, UI-TARS's action strings (`click(start_box='(411,361)')`). Coordinates are
screen fractions, pixels of the recorded screen, or the 0-1000 grid (:mod:`.coords`). The record
layout is published as JSON Schema in `chat.schema.json`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar, Final, TextIO

from deskscribe.dataset.export.base import ExportEpisode, Exporter, dumps
from deskscribe.dataset.export.coords import COORDS, Scale
from deskscribe.dataset.export.uitars import CALLS, to_uitars

HISTORY_STEPS = 5
STYLES: Final = ("pyautogui", "uitars")
FRACTION: Final = Scale()

COORDS_SAID: Final = {"fraction": "screen fractions (four decimals)",
                      "pixel": "integer pixels of the recorded screen",
                      "1000": "integers on the 0-1000 grid (Qwen-VL, UI-TARS)"}


def schema(style: str = "pyautogui", coords: str = "fraction") -> dict[str, Any]:
    """A record's JSON Schema; the model turn's form depends on the style."""
    if style == "uitars":
        turn = {"type": "string", "pattern": rf"^({'|'.join(sorted(CALLS))})\("}
    else:
        turn = {"type": "string", "pattern": r"^(pyautogui|computer)\."}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "deskscribe chat record",
        "description": f"gpt turn: {style} actions, coordinates as {COORDS_SAID[coords]}",
        "type": "object",
        "required": ["id", "episode_id", "step", "split", "image", "conversations"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "episode_id": {"type": "string"},
            "step": {"type": "integer", "minimum": 0},
            "split": {"enum": ["train", "validation", "test"]},
            "image": {"type": ["string", "null"], "pattern": "^images/"},
            "conversations": {
                "type": "array", "minItems": 2, "maxItems": 2,
                "prefixItems": [
                    {"type": "object", "required": ["from", "value"], "additionalProperties": False,
                     "properties": {"from": {"const": "human"}, "value": {"type": "string"}}},
                    {"type": "object", "required": ["from", "value"], "additionalProperties": False,
                     "properties": {"from": {"const": "gpt"}, "value": turn}},
                ],
            },
        },
    }


SCHEMA: dict[str, Any] = schema()


def _xy(a: dict[str, Any], scale: Scale, x: str = "x", y: str = "y") -> str:
    px, py = scale.point(a, x, y)
    return f"x={scale.text(px)}, y={scale.text(py)}"


def to_code(a: dict[str, Any], scale: Scale = FRACTION) -> str:
    """One action as the pyautogui call(s) that perform it; modifiers held at a press go down
    before it and up after it, in reverse order. With pixel coordinates the code runs as is on
    a screen of the recorded size."""
    code = _code(a, scale)
    keys: list[str] = [] if a["type"] == "key" else list(a.get("keys") or [])
    return "\n".join([*(f"pyautogui.keyDown({k!r})" for k in keys), code,
                      *(f"pyautogui.keyUp({k!r})" for k in reversed(keys))])


def _code(a: dict[str, Any], scale: Scale) -> str:
    kind = a["type"]
    xy = _xy(a, scale) if "x" in a else ""
    if kind == "click":
        fn = {1: "click", 2: "doubleClick", 3: "tripleClick"}[int(a.get("count", 1))]
        button = "" if a.get("button", "left") == "left" else f", button={a['button']!r}"
        return f"pyautogui.{fn}({xy}{button})"
    if kind == "move":
        return f"pyautogui.moveTo({xy})"
    if kind == "drag":
        button = a.get("button", "left")
        return f"pyautogui.moveTo({xy})\npyautogui.dragTo({_xy(a, scale, 'x2', 'y2')}, button={button!r})"
    if kind == "scroll":
        code = []
        if a.get("dy"):
            code.append(f"pyautogui.scroll({a['dy']}, {xy})")
        if a.get("dx"):
            code.append(f"pyautogui.hscroll({a['dx']}, {xy})")
        return "\n".join(code) or f"pyautogui.moveTo({xy})"
    if kind == "type":
        return f"pyautogui.write({a['text']!r})"
    if kind == "key":
        keys = a["keys"]
        return f"pyautogui.press({keys[0]!r})" if len(keys) == 1 else \
            "pyautogui.hotkey(" + ", ".join(repr(k) for k in keys) + ")"
    if kind == "long_press":
        button = "" if a.get("button", "left") == "left" else f"button={a['button']!r}"
        return (f"pyautogui.moveTo({xy})\npyautogui.mouseDown({button})\n"
                f"time.sleep({a['ms'] / 1000:.1f})\npyautogui.mouseUp({button})")
    if kind == "select":
        return f"pyautogui.click({xy})\ncomputer.select(option={a['value']!r})"
    if kind == "wait":
        return f"computer.wait({a.get('s', 1)})"
    if kind == "terminate":
        return f"computer.terminate(status={a['status']!r})"
    raise ValueError(f"no pyautogui form for action {kind!r}")


def action_string(a: dict[str, Any], *, style: str, scale: Scale) -> str:
    return to_uitars(a, scale) if style == "uitars" else to_code(a, scale)


class ChatExporter(Exporter):
    name = "chat"
    options: ClassVar[Mapping[str, tuple[str, ...]]] = {"coords": COORDS, "style": STYLES}
    format_doc = """## Files

`chat.jsonl`: one conversation per step (human: `<image>`, instruction and up to five previous
actions; gpt: the next action), every split in the one file: `datasets.load_dataset(".")` gives
it as one split, `conversations`, and a record's `split` says which it belongs to.
`chat.schema.json` is the JSON Schema of a record and says, in its `description`, which style
and coordinates this build used; screenshots are under `images/`.

The gpt turn is pyautogui code by default (`--style pyautogui`): a click, drag or long press
made with modifiers held is wrapped in `pyautogui.keyDown(...)` / `pyautogui.keyUp(...)`, and
`computer.terminate(status=...)` ends an episode. `--style uitars` writes UI-TARS's action
strings instead (`click(start_box='(x,y)')`, `left_double`, `right_single`, `drag(start_box=...,
end_box=...)`, `hotkey(key='ctrl c')`, `type(content='...')`, `scroll(start_box=...,
direction='down')` (the direction only: UI-TARS scrolls have no amount), `hover`,
`keydown`/`keyup` around a press made with modifiers held,
`long_press(start_box=..., time='seconds')`; an episode ends with `finished()`, or
`call_user()` when the task was ended as failed; several calls for one step are separated by a
blank line).

Coordinates are screen fractions with four decimals by default (`--coords fraction`);
`--coords pixel` writes integer pixels of the recorded screen (the screenshot's size), so the
pyautogui code runs unchanged on a screen of that size; `--coords 1000` writes integers on the
0-1000 grid of Qwen-VL and UI-TARS 1.0 (`round(fraction * 1000)`)."""

    _fh: TextIO

    def __init__(self, *, out: Path, coords: str = "fraction", style: str = "pyautogui") -> None:
        super().__init__(out=out)
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
        Scale(coords)  # refuses an unknown system now, before any file exists
        self.coords, self.style = coords, style

    def data_files(self, splits: Collection[str]) -> dict[str, str]:
        return {"conversations": "chat.jsonl"} if splits else {}

    def _start(self) -> None:
        self._fh = (self.out / "chat.jsonl").open("w", encoding="utf-8")
        doc = schema(self.style, self.coords)
        (self.out / "chat.schema.json").write_text(json.dumps(doc, indent=2) + "\n")

    def _end(self, *, complete: bool) -> None:
        self._fh.close()

    def add(self, ep: ExportEpisode) -> None:
        scale = Scale(self.coords, ep.screen)
        history: list[str] = []
        for step in ep.steps:
            code = action_string(step.action, style=self.style, scale=scale)
            previous = "\n".join(history[-HISTORY_STEPS:]) or "(none)"
            human = (f"<image>\nInstruction: {ep.instruction or '(not given)'}\n"
                     f"Application: {step.app or 'unknown'}\nPrevious actions:\n{previous}")
            self._fh.write(dumps({
                "id": f"{ep.episode_id}-{step.step:04d}", "episode_id": ep.episode_id,
                "step": step.step, "split": ep.split, "image": self.write_image(ep, step),
                "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": code}],
            }) + "\n")
            history.append(code.replace("\n\n", "; ").replace("\n", "; "))
