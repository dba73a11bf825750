"""`agentnet`: trajectories in the layout of OpenCUA's AgentNet, so its training code reads them.

One JSON line per episode with AgentNet's fields: `task_id`, `instruction`, `task_completed`
and the trajectory `traj`, each step `{index, image, value: {observation, thought, action, code,
last_step_correct, last_step_redundant, reflection}}`. `code` is OpenCUA's action space:
pyautogui calls with coordinates as screen fractions (four decimals) and `computer.*` functions,
ending with `computer.terminate(status='success'|'failure')`; `action` says the same in words.
What AgentNet's annotators and models added (observation, thought, reflection, quality scores)
was never recorded here and is null.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any, Final, TextIO

from deskscribe.dataset.export.base import ExportEpisode, Exporter, ExportStep, dumps
from deskscribe.dataset.export.outcome import completed, terminate_status

# One or more lines, each a pyautogui call or an OpenCUA `computer.*` function.
CODE_PATTERN: Final = r"^(pyautogui|computer)\.[^\n]*(\n(pyautogui|computer)\.[^\n]*)*$"
UNRECORDED: Final = ("alignment_score", "efficiency_score", "task_difficulty", "reason",
                     "natural_language_task", "actual_task")

_NULL_STR: Final = {"type": ["string", "null"]}
_NULL_BOOL: Final = {"type": ["boolean", "null"]}
_NULL_INT: Final = {"type": ["integer", "null"]}

SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "deskscribe AgentNet trajectory",
    "type": "object",
    "required": ["task_id", "instruction", "split", "task_completed", *UNRECORDED, "traj"],
    "additionalProperties": False,
    "properties": {
        "task_id": {"type": "string"},
        "instruction": {"type": "string"},
        "split": {"enum": ["train", "validation", "test"]},
        "task_completed": _NULL_BOOL,
        "alignment_score": _NULL_INT, "efficiency_score": _NULL_INT, "task_difficulty": _NULL_INT,
        "reason": _NULL_STR, "natural_language_task": _NULL_STR, "actual_task": _NULL_STR,
        "traj": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["index", "image", "value"],
            "additionalProperties": False,
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "image": {"type": ["string", "null"], "pattern": r"^[^/\\]+\.png$"},
                "value": {
                    "type": "object",
                    "required": ["observation", "thought", "action", "code", "last_step_correct",
                                 "last_step_redundant", "reflection"],
                    "additionalProperties": False,
                    "properties": {
                        "observation": _NULL_STR, "thought": _NULL_STR, "reflection": _NULL_STR,
                        "action": {"type": "string", "minLength": 1},
                        "code": {"type": "string", "pattern": CODE_PATTERN},
                        "last_step_correct": _NULL_BOOL, "last_step_redundant": _NULL_BOOL,
                    },
                },
            },
        }},
    },
}


def _xy(a: dict[str, Any], x: str = "x", y: str = "y") -> str:
    return f"x={a[x]:.4f}, y={a[y]:.4f}"


def _at(a: dict[str, Any], x: str = "x", y: str = "y") -> str:
    return f"({a[x]:.4f}, {a[y]:.4f})"


def code(a: dict[str, Any]) -> str:
    """One action in OpenCUA's action space; modifiers held at a press go down before it and
    up after it, in reverse order."""
    keys: list[str] = [] if a["type"] == "key" else list(a.get("keys") or [])
    return "\n".join([*(f"pyautogui.keyDown({k!r})" for k in keys), *_lines(a),
                      *(f"pyautogui.keyUp({k!r})" for k in reversed(keys))])


def _click(a: dict[str, Any]) -> list[str]:
    button, count = a.get("button", "left"), int(a.get("count", 1))
    if button == "left":
        fn = {1: "pyautogui.click", 2: "pyautogui.doubleClick", 3: "computer.triple_click"}[count]
        return [f"{fn}({_xy(a)})"]
    if button in ("right", "middle"):
        return [f"pyautogui.{button}Click({_xy(a)})"] * count
    return [f"pyautogui.click({_xy(a)}, button={button!r})"] * count


def _button(a: dict[str, Any]) -> str:
    button = a.get("button", "left")
    return "" if button == "left" else f"button={button!r}"


def _lines(a: dict[str, Any]) -> list[str]:
    kind = a["type"]
    if kind == "click":
        return _click(a)
    if kind == "move":
        return [f"pyautogui.moveTo({_xy(a)})"]
    if kind == "drag":
        button = _button(a)
        return [f"pyautogui.moveTo({_xy(a)})",
                f"pyautogui.dragTo({_xy(a, 'x2', 'y2')}{', ' + button if button else ''})"]
    if kind == "scroll":  # OpenCUA scrolls where the pointer is
        return [f"pyautogui.moveTo({_xy(a)})",
                *([f"pyautogui.scroll({a['dy']})"] if a.get("dy") else []),
                *([f"pyautogui.hscroll({a['dx']})"] if a.get("dx") else [])]
    if kind == "type":
        return [f"pyautogui.write(message={a['text']!r})"]
    if kind == "key":
        keys = a["keys"]
        return [f"pyautogui.press({keys[0]!r})" if len(keys) == 1 else
                "pyautogui.hotkey(" + ", ".join(repr(k) for k in keys) + ")"]
    if kind == "select":  # a drop-down's type-ahead picks the option, Enter commits it
        return [f"pyautogui.click({_xy(a)})", f"pyautogui.write(message={a['value']!r})",
                "pyautogui.press('enter')"]
    if kind == "long_press":
        return [f"pyautogui.moveTo({_xy(a)})", f"pyautogui.mouseDown({_button(a)})",
                f"pyautogui.sleep({a['ms'] / 1000:g})", f"pyautogui.mouseUp({_button(a)})"]
    if kind == "wait":
        return [f"pyautogui.sleep({a.get('s', 1):g})"]
    if kind == "terminate":
        return [f"computer.terminate(status={terminate_status(a['status'])!r})"]
    raise ValueError(f"no OpenCUA form for action {kind!r}")


def _on(target: dict[str, Any] | None) -> str:
    """The element aimed at, as words: "the button 'Save' ", or nothing when unknown."""
    name = (target or {}).get("name")
    if not name:
        return ""
    role = (target or {}).get("role")
    return f"the {role} '{name}' " if role else f"'{name}' "


def _verb(a: dict[str, Any]) -> str:
    button, count = a.get("button", "left"), int(a.get("count", 1))
    verb = {1: "click", 2: "double-click", 3: "triple-click"}[count] if button == "left" \
        else f"{button}-click"
    keys = list(a.get("keys") or [])
    return "+".join([*(k.capitalize() for k in keys), verb]) if keys else verb.capitalize()


def describe(a: dict[str, Any], target: dict[str, Any] | None = None) -> str:
    """The action in a few words, as AgentNet's `action` field says it."""
    kind, on = a["type"], _on(target)
    if kind == "click":
        return f"{_verb(a)} {on}at {_at(a)}"
    if kind == "move":
        return f"Move the pointer over {on}at {_at(a)}" if on else f"Move the pointer to {_at(a)}"
    if kind == "drag":
        return f"Drag from {_at(a)} to {_at(a, 'x2', 'y2')}"
    if kind == "scroll":
        dx, dy = int(a.get("dx") or 0), int(a.get("dy") or 0)
        parts = [*([f"{'up' if dy > 0 else 'down'} {abs(dy)}"] if dy else []),
                 *([f"{'right' if dx > 0 else 'left'} {abs(dx)}"] if dx else [])]
        return f"Scroll {' and '.join(parts) or 'by nothing'} at {_at(a)}"
    if kind == "type":
        into = f" into {on.rstrip()}" if on else ""
        return f"Type {json.dumps(a['text'], ensure_ascii=False)}{into}"
    if kind == "key":
        return f"Press {'+'.join(a['keys'])}"
    if kind == "select":
        return f"Choose '{a['value']}' in {on or 'the drop-down '}at {_at(a)}"
    if kind == "long_press":
        return f"Press and hold {on}at {_at(a)} for {a['ms'] / 1000:g} s"
    if kind == "wait":
        return f"Wait {a.get('s', 1):g} s"
    if kind == "terminate":
        return f"Terminate the task ({terminate_status(a['status'])})"
    raise ValueError(f"no description for action {kind!r}")


def image_name(ep: ExportEpisode, step: ExportStep) -> str | None:
    """A screenshot's file name inside `images/`, as OpenCUA names them: task id and index."""
    return None if step.image is None else f"{ep.episode_id}_{step.step}.png"


class AgentNetExporter(Exporter):
    name = "agentnet"
    format_doc = """## Files

`agentnet.jsonl`: one trajectory per episode in the layout of OpenCUA's AgentNet:
`task_id` (the episode id), `instruction`, `split`, `task_completed` (true or false when the
task was ended with an outcome, null when not), `traj`: one step per action, each
`{index, image, value: {observation, thought, action, code, last_step_correct,
last_step_redundant, reflection}}`. `image` names the screenshot in `images/` (null when none
was kept); `code` is pyautogui code with coordinates as screen fractions (four decimals), a
triple click `computer.triple_click(x=..., y=...)`, a scroll `pyautogui.moveTo(...)` then
`pyautogui.scroll(n)`, and the last step `computer.terminate(status='success'|'failure')`
(`failure` only for a task ended as failed); `action` describes the step in words. Fields
AgentNet's annotators or models wrote (`observation`, `thought`, `reflection`,
`last_step_correct`, `last_step_redundant`, `alignment_score`, `efficiency_score`,
`task_difficulty`, `reason`, `natural_language_task`, `actual_task`) are null: nobody
wrote them here. `agentnet.schema.json` is the JSON Schema of a line. Every split is in the one
file: `datasets.load_dataset(".")` gives it as one split, `trajectories`."""

    _fh: TextIO

    def data_files(self, splits: Collection[str]) -> dict[str, str]:
        return {"trajectories": "agentnet.jsonl"} if splits else {}

    def _start(self) -> None:
        (self.out / "images").mkdir(exist_ok=True)
        self._fh = (self.out / "agentnet.jsonl").open("w", encoding="utf-8")
        (self.out / "agentnet.schema.json").write_text(json.dumps(SCHEMA, indent=2) + "\n")

    def _end(self, *, complete: bool) -> None:
        self._fh.close()

    def add(self, ep: ExportEpisode) -> None:
        for step in ep.steps:
            name = image_name(ep, step)
            if name is not None and step.image is not None:
                (self.out / "images" / name).write_bytes(step.image)
        self._fh.write(dumps(trajectory(ep)) + "\n")


def trajectory(ep: ExportEpisode) -> dict[str, Any]:
    traj = [{"index": step.step, "image": image_name(ep, step), "value": {
        "observation": None, "thought": None, "action": describe(step.action, step.target),
        "code": code(step.action), "last_step_correct": None, "last_step_redundant": None,
        "reflection": None}} for step in ep.steps]
    return {"task_id": ep.episode_id, "instruction": ep.instruction, "split": ep.split,
            "task_completed": completed(ep.status), **dict.fromkeys(UNRECORDED), "traj": traj}
