"""`chat`: conversations for fine-tuning GUI agents, each step's target as pyautogui code.

Each record: the screenshot, the instruction and the previous actions as the human turn, the
next action as code (`pyautogui.click(x=0.4114, y=0.3607)`, coordinates as screen fractions)
as the model turn. The record layout is published as JSON Schema in `chat.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from deskscribe.dataset.export.base import ExportEpisode, Exporter, dumps

HISTORY_STEPS = 5

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "deskscribe chat record",
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
                 "properties": {"from": {"const": "gpt"},
                                "value": {"type": "string", "pattern": r"^(pyautogui|computer)\."}}},
            ],
        },
    },
}


def _xy(a: dict[str, Any], x: str = "x", y: str = "y") -> str:
    return f"x={a[x]:.4f}, y={a[y]:.4f}"


def to_code(a: dict[str, Any]) -> str:
    """One action as the pyautogui call(s) that perform it (coordinates as fractions);
    modifiers held at a press go down before it and up after it, in reverse order."""
    code = _code(a)
    keys: list[str] = [] if a["type"] == "key" else list(a.get("keys") or [])
    return "\n".join([*(f"pyautogui.keyDown({k!r})" for k in keys), code,
                      *(f"pyautogui.keyUp({k!r})" for k in reversed(keys))])


def _code(a: dict[str, Any]) -> str:
    kind = a["type"]
    if kind == "click":
        fn = {1: "click", 2: "doubleClick", 3: "tripleClick"}[int(a.get("count", 1))]
        button = "" if a.get("button", "left") == "left" else f", button={a['button']!r}"
        return f"pyautogui.{fn}({_xy(a)}{button})"
    if kind == "move":
        return f"pyautogui.moveTo({_xy(a)})"
    if kind == "drag":
        button = a.get("button", "left")
        return f"pyautogui.moveTo({_xy(a)})\npyautogui.dragTo({_xy(a, 'x2', 'y2')}, button={button!r})"
    if kind == "scroll":
        code = []
        if a.get("dy"):
            code.append(f"pyautogui.scroll({a['dy']}, {_xy(a)})")
        if a.get("dx"):
            code.append(f"pyautogui.hscroll({a['dx']}, {_xy(a)})")
        return "\n".join(code) or f"pyautogui.moveTo({_xy(a)})"
    if kind == "type":
        return f"pyautogui.write({a['text']!r})"
    if kind == "key":
        keys = a["keys"]
        return f"pyautogui.press({keys[0]!r})" if len(keys) == 1 else \
            "pyautogui.hotkey(" + ", ".join(repr(k) for k in keys) + ")"
    if kind == "long_press":
        button = "" if a.get("button", "left") == "left" else f"button={a['button']!r}"
        return (f"pyautogui.moveTo({_xy(a)})\npyautogui.mouseDown({button})\n"
                f"time.sleep({a['ms'] / 1000:.1f})\npyautogui.mouseUp({button})")
    if kind == "select":
        return f"pyautogui.click({_xy(a)})\ncomputer.select(option={a['value']!r})"
    if kind == "wait":
        return f"computer.wait({a.get('s', 1)})"
    if kind == "terminate":
        return f"computer.terminate(status={a['status']!r})"
    raise ValueError(f"no pyautogui form for action {kind!r}")


class ChatExporter(Exporter):
    name = "chat"
    format_doc = """## Files

`chat.jsonl`: one conversation per step (human: `<image>`, instruction and up to five previous
actions; gpt: the next action as pyautogui code, coordinates as screen fractions; a click,
drag or long press made with modifiers held is wrapped in `pyautogui.keyDown(...)` /
`pyautogui.keyUp(...)`; `computer.terminate(status=...)` ends an episode).
`chat.schema.json` is the JSON Schema of a record; screenshots are under `images/`."""

    _fh: TextIO

    def _start(self) -> None:
        self._fh = (self.out / "chat.jsonl").open("w", encoding="utf-8")
        (self.out / "chat.schema.json").write_text(json.dumps(SCHEMA, indent=2) + "\n")

    def _end(self, *, complete: bool) -> None:
        self._fh.close()

    def add(self, ep: ExportEpisode) -> None:
        history: list[str] = []
        for step in ep.steps:
            code = to_code(step.action)
            previous = "\n".join(history[-HISTORY_STEPS:]) or "(none)"
            human = (f"<image>\nInstruction: {ep.instruction or '(not given)'}\n"
                     f"Application: {step.app or 'unknown'}\nPrevious actions:\n{previous}")
            self._fh.write(dumps({
                "id": f"{ep.episode_id}-{step.step:04d}", "episode_id": ep.episode_id,
                "step": step.step, "split": ep.split, "image": self.write_image(ep, step),
                "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": code}],
            }) + "\n")
            history.append(code.replace("\n", "; "))
