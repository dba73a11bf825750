"""`agentnetbench`: episodes laid out for OpenCUA's AgentNetBench offline evaluator.

The evaluator reads every `*.json` in its data directory as one trajectory (`task_id`,
`high_level_task_description`, `steps`), opens each step's `image` inside its image directory,
and scores a model's predicted actions against the step's `ground_truth_actions`: `{type,
params, metadata: {bboxes: [{rel_bbox: [x, y, width, height]}]}}`, positions as screen fractions,
a click counting as right anywhere inside a box. A step's ground truth is the structured form of
the `agentnet` code for it, action for action, so a model trained on that code is scored on
the same sequence it learned.
"""

from __future__ import annotations

import json
from typing import Any

from deskscribe.dataset.export.agentnet import code, describe, image_name
from deskscribe.dataset.export.base import ExportEpisode, Exporter, ExportStep
from deskscribe.dataset.export.outcome import terminate_status

Gt = dict[str, Any]


def rel_bbox(target: dict[str, Any] | None) -> list[float] | None:
    """The target's box as AgentNetBench's `[x, y, width, height]` fractions."""
    box = (target or {}).get("bbox")
    if box is None:
        return None
    left, top, right, bottom = box
    return [left, top, round(right - left, 6), round(bottom - top, 6)]


def _gt(kind: str, params: dict[str, Any] | None = None, box: list[float] | None = None) -> Gt:
    return {"type": kind, "params": params or {},
            "metadata": {"bboxes": [] if box is None else [{"rel_bbox": box}]}}


def _pos(a: dict[str, Any], x: str = "x", y: str = "y") -> dict[str, Any]:
    return {"position": {"x": a[x], "y": a[y]}}


def _click(a: dict[str, Any], box: list[float] | None) -> list[Gt]:
    button, count = a.get("button", "left"), int(a.get("count", 1))
    params = _pos(a)
    if a.get("keys"):
        params["modifiers"] = list(a["keys"])
    if button == "left":
        return [_gt({1: "click", 2: "doubleClick", 3: "tripleClick"}[count], params, box)]
    if button in ("right", "middle"):
        return [_gt(f"{button}Click", params, box)] * count
    return [_gt("click", {**params, "button": button}, box)] * count


def ground_truth(a: dict[str, Any], target: dict[str, Any] | None = None) -> list[Gt]:
    kind, box = a["type"], rel_bbox(target)
    if kind == "click":
        return _click(a, box)
    if kind == "move":
        return [_gt("moveTo", _pos(a), box)]
    if kind == "drag":
        end = {**_pos(a, "x2", "y2"), "button": a.get("button", "left")}
        return [_gt("moveTo", _pos(a), box), _gt("dragTo", end)]
    if kind == "scroll":
        return [_gt("moveTo", _pos(a)),
                *([_gt("scroll", {"amount": a["dy"]})] if a.get("dy") else []),
                *([_gt("hscroll", {"amount": a["dx"]})] if a.get("dx") else [])]
    if kind == "type":
        return [_gt("write", {"content": a["text"]})]
    if kind == "key":
        return [_gt("press" if len(a["keys"]) == 1 else "hotkey", {"keys": list(a["keys"])})]
    if kind == "select":
        return [_gt("click", _pos(a), box), _gt("write", {"content": a["value"]}),
                _gt("press", {"keys": ["enter"]})]
    if kind == "long_press":
        button = {"button": a.get("button", "left")}
        return [_gt("moveTo", _pos(a), box), _gt("mouseDown", button),
                _gt("wait", {"seconds": a["ms"] / 1000}), _gt("mouseUp", button)]
    if kind == "wait":
        return [_gt("wait", {"seconds": a.get("s", 1)})]
    if kind == "terminate":
        return [_gt("terminate", {"status": terminate_status(a["status"])})]
    raise ValueError(f"no AgentNetBench form for action {kind!r}")


def bench_step(ep: ExportEpisode, step: ExportStep) -> dict[str, Any]:
    """A step as the evaluator reads it; `action` and `inner_monologue` are what its agents
    show a model as the history of earlier steps."""
    return {"image": image_name(ep, step),
            "ground_truth_actions": ground_truth(step.action, step.target),
            "action": code(step.action),
            "inner_monologue": {"observation": "", "thought": "",
                                "low_level_instruction": describe(step.action, step.target)}}


class AgentNetBenchExporter(Exporter):
    name = "agentnetbench"
    format_doc = """## Files

`<task_id>.json`, one per episode, for OpenCUA's AgentNetBench offline evaluator (data
directory: this one; image directory: `images/`): `task_id` (the episode id),
`high_level_task_description` (the instruction), `steps`, each with `image` (a file in
`images/`), `ground_truth_actions` (`{type, params, metadata: {bboxes}}`: `click`,
`doubleClick`, `tripleClick`, `rightClick`, `middleClick` and `moveTo` with
`params.position {x, y}` as screen fractions, `modifiers` when keys were held; `dragTo` with the
end position; `write` with `content`; `press` and `hotkey` with `keys`; `scroll` and `hscroll`
with `amount` in wheel notches, up and right positive, after a `moveTo` to where the wheel
turned; `terminate` with `status` `success` or `failure`), `action` (the step as pyautogui code,
as in the `agentnet` format) and `inner_monologue.low_level_instruction` (the step in words).
Where the element aimed at is known, its box is in `metadata.bboxes[].rel_bbox` as
`[x, y, width, height]` fractions, and the evaluator counts any click inside it as right. Steps
without a screenshot are left out (there is nothing to show a model), and so are episodes
without any."""

    def _start(self) -> None:
        (self.out / "images").mkdir(exist_ok=True)

    def add(self, ep: ExportEpisode) -> None:
        steps = [s for s in ep.steps if s.image is not None]
        if not steps:
            return
        for step in steps:
            name = image_name(ep, step)
            if name is not None and step.image is not None:
                (self.out / "images" / name).write_bytes(step.image)
        doc = {"task_id": ep.episode_id, "high_level_task_description": ep.instruction,
               "steps": [bench_step(ep, s) for s in steps]}
        (self.out / f"{ep.episode_id}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
