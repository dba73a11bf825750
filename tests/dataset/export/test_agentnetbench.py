"""`agentnetbench`: files OpenCUA's AgentNetBench offline evaluator reads as they are.

What the evaluator does with a data directory, and so what these tests check: it takes every
`*.json` there not named `mapping*` as one trajectory, reads `task_id`,
`high_level_task_description` and `steps`, opens `os.path.join(image_dir, step["image"])`, and
scores predictions against `ground_truth_actions`: `type` (compared lower-cased), for clicks,
moves and drags `params.position.x/y`, a point inside any `metadata.bboxes[].rel_bbox`
(`[x, y, width, height]`) counting as right; `params.content` for `write`, `params.keys` (a
list) for `press` and `hotkey`, `params.amount` for `scroll`, `params.status` for `terminate`.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import pytest

from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.export.base import BuildSummary, ExportEpisode, ExportStep
from tests.dataset.export.scripted import INSTRUCTION, TYPES, build, form_session

POSITIONED = {"click", "doubleclick", "rightclick", "middleclick", "tripleclick", "moveto", "dragto"}
# The evaluator's name for each call of the agentnet code (keys held are a click's `modifiers`).
GT_TYPE = {"pyautogui.click": "click", "pyautogui.doubleClick": "doubleClick", "pyautogui.rightClick": "rightClick",
           "pyautogui.middleClick": "middleClick", "computer.triple_click": "tripleClick", "pyautogui.moveTo": "moveTo",
           "pyautogui.dragTo": "dragTo", "pyautogui.write": "write", "pyautogui.press": "press",
           "pyautogui.hotkey": "hotkey", "pyautogui.scroll": "scroll", "pyautogui.hscroll": "hscroll",
           "pyautogui.mouseDown": "mouseDown", "pyautogui.mouseUp": "mouseUp", "pyautogui.sleep": "wait",
           "computer.terminate": "terminate"}


def trajectories(data: Path) -> list[dict[str, Any]]:
    """What the evaluator loads from ``data``, the way it loads it."""
    names = [f for f in os.listdir(data) if f.endswith(".json") and not f.startswith("mapping")]
    return [json.loads((data / f).read_text()) for f in names]


def inside(x: float, y: float, box: list[float]) -> bool:
    bx, by, bw, bh = box
    return bx <= x <= bx + bw and by <= y <= by + bh


@pytest.fixture
def built(tmp_path: Path) -> Path:
    sid = form_session(tmp_path / "d")
    return build(tmp_path / "d", sid, "agentnetbench", tmp_path / "out")


def test_each_episode_is_one_trajectory_with_every_image_in_the_image_dir(built: Path) -> None:
    (traj,) = trajectories(built)
    assert (built / f"{traj['task_id']}.json").exists()
    assert traj["high_level_task_description"] == INSTRUCTION
    assert len(traj["steps"]) == len(TYPES)
    for step in traj["steps"]:
        assert os.path.exists(os.path.join(built / "images", step["image"]))
        assert step["ground_truth_actions"], step
        for gt in step["ground_truth_actions"]:
            assert isinstance(gt["type"], str) and isinstance(gt["params"], dict)
            assert all(len(b["rel_bbox"]) == 4 for b in gt["metadata"]["bboxes"])
            if gt["type"].lower() in POSITIONED:
                pos = gt["params"]["position"]
                assert 0 <= pos["x"] <= 1 and 0 <= pos["y"] <= 1
            if gt["type"] in ("press", "hotkey"):
                assert isinstance(gt["params"]["keys"], list)
            if gt["type"] == "write":
                assert isinstance(gt["params"]["content"], str)
            if gt["type"] == "scroll":
                assert isinstance(gt["params"]["amount"], int)
    assert traj["steps"][-1]["ground_truth_actions"] == [
        {"type": "terminate", "params": {"status": "success"}, "metadata": {"bboxes": []}}]


def test_a_click_on_a_known_element_counts_anywhere_inside_its_box(built: Path) -> None:
    (traj,) = trajectories(built)
    (save,) = traj["steps"][0]["ground_truth_actions"]
    assert save["type"] == "click" and save["params"]["position"] == {"x": 0.11, "y": 0.42}
    (box,) = [b["rel_bbox"] for b in save["metadata"]["bboxes"]]
    assert box == [0.1, 0.4, 0.08, 0.06]  # Save is 80 x 30 px at (100, 200) of 1000 x 500
    assert inside(0.11, 0.42, box) and inside(0.179, 0.459, box) and not inside(0.19, 0.42, box)
    shift_click = traj["steps"][1]["ground_truth_actions"]
    assert shift_click[0]["params"]["modifiers"] == ["shift"] and shift_click[0]["metadata"]["bboxes"] == []


def code_calls(code: str) -> list[tuple[str, dict[str, Any]]]:
    """The calls of agentnet code as (dotted name, keyword args), keys held left out."""
    out = []
    for line in code.splitlines():
        call = ast.parse(line, mode="eval").body
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        assert isinstance(call.func.value, ast.Name)
        if call.func.attr not in ("keyDown", "keyUp"):
            out.append((f"{call.func.value.id}.{call.func.attr}",
                        {k.arg: ast.literal_eval(k.value) for k in call.keywords}))
    return out


def test_ground_truth_is_the_agentnet_code_action_for_action(built: Path) -> None:
    (traj,) = trajectories(built)
    for step in traj["steps"]:
        code, gts = code_calls(step["action"]), step["ground_truth_actions"]
        assert [GT_TYPE[name] for name, _ in code] == [g["type"] for g in gts], step
        for (_, kwargs), gt in zip(code, gts, strict=True):
            if "x" in kwargs:
                assert abs(kwargs["x"] - gt["params"]["position"]["x"]) < 5e-5
                assert abs(kwargs["y"] - gt["params"]["position"]["y"]) < 5e-5
    said = [s["inner_monologue"]["low_level_instruction"] for s in traj["steps"]]
    assert said[0] == "Click the button 'Save' at (0.1100, 0.4200)"


def test_a_drop_down_choice_is_the_click_the_typed_option_and_enter(built: Path) -> None:
    (traj,) = trajectories(built)
    choice = traj["steps"][TYPES.index("select")]["ground_truth_actions"]
    assert [(g["type"], g["params"].get("content"), g["params"].get("keys")) for g in choice] == [
        ("click", None, None), ("write", "Norway", None), ("press", None, ["enter"])]
    assert choice[0]["metadata"]["bboxes"] == [{"rel_bbox": [0.3, 0.2, 0.1, 0.04]}]


def test_steps_without_a_screenshot_are_left_out_and_so_are_episodes_without_any(tmp_path: Path) -> None:
    def step(i: int, image: bytes | None, **action: Any) -> ExportStep:
        return ExportStep(step=i, t_ms=0, app=None, title=None, url=None, action=action, image=image)

    shown = ExportEpisode(episode_id="shown", contributor="p", split="train", instruction="x", status="fail",
                          screen=(10, 10), steps=[step(0, None, type="key", keys=["a"]),
                                                  step(1, b"png", type="key", keys=["b"]),
                                                  step(2, b"png", type="terminate", status="fail")])
    unseen = ExportEpisode(episode_id="unseen", contributor="p", split="train", instruction="y", status="success",
                           screen=(10, 10), steps=[step(0, None, type="terminate", status="success")])
    with open_exporter("agentnetbench", out=tmp_path / "out") as exporter:
        exporter.add(shown)
        exporter.add(unseen)
        exporter.close(BuildSummary(fmt="agentnetbench"))
    (traj,) = trajectories(tmp_path / "out")
    assert [s["image"] for s in traj["steps"]] == ["shown_1.png", "shown_2.png"]
    assert traj["steps"][0]["ground_truth_actions"][0]["params"] == {"keys": ["b"]}
    assert traj["steps"][1]["ground_truth_actions"][0]["params"] == {"status": "failure"}
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == ["shown_1.png", "shown_2.png"]
