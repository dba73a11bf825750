"""`agentnet`: OpenCUA's trajectory layout, valid against the schema it ships, loadable with
`datasets`, and code that stays inside OpenCUA's action space."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import datasets
import jsonschema
import pytest
from PIL import Image

from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.export.base import BuildSummary, ExportEpisode, ExportStep
from tests.dataset.export.scripted import INSTRUCTION, TYPES, H, W, build, form_session

# OpenCUA's action space: the pyautogui calls its models are trained to write (AgentNet's action
# space, plus the pyautogui code its prompt allows for keys held and a press held) and its
# `computer.*` functions, each with the keyword arguments it may take and how many positional.
ACTION_SPACE: dict[str, tuple[set[str], range]] = {
    "pyautogui.click": ({"x", "y", "button"}, range(1)),
    "pyautogui.doubleClick": ({"x", "y"}, range(1)),
    "pyautogui.rightClick": ({"x", "y"}, range(1)),
    "pyautogui.middleClick": ({"x", "y"}, range(1)),
    "pyautogui.moveTo": ({"x", "y"}, range(1)),
    "pyautogui.dragTo": ({"x", "y", "button"}, range(1)),
    "pyautogui.scroll": (set(), range(1, 2)),
    "pyautogui.hscroll": (set(), range(1, 2)),
    "pyautogui.write": ({"message"}, range(1)),
    "pyautogui.press": (set(), range(1, 2)),
    "pyautogui.hotkey": (set(), range(2, 5)),
    "pyautogui.keyDown": (set(), range(1, 2)),
    "pyautogui.keyUp": (set(), range(1, 2)),
    "pyautogui.mouseDown": ({"button"}, range(1)),
    "pyautogui.mouseUp": ({"button"}, range(1)),
    "pyautogui.sleep": (set(), range(1, 2)),
    "computer.triple_click": ({"x", "y"}, range(1)),
    "computer.terminate": ({"status"}, range(1)),
}


def calls(code: str) -> list[tuple[str, dict[str, Any], list[Any]]]:
    """Each line of ``code`` as (dotted name, keyword args, positional args); a line that is
    not one call of a name in the action space fails the test."""
    out = []
    for line in code.splitlines():
        node = ast.parse(line, mode="eval").body
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute), line
        assert isinstance(node.func.value, ast.Name), line
        name = f"{node.func.value.id}.{node.func.attr}"
        assert name in ACTION_SPACE, line
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        args = [ast.literal_eval(a) for a in node.args]
        allowed, positional = ACTION_SPACE[name]
        assert set(kwargs) <= allowed and len(args) in positional, line
        if "x" in allowed:  # a pointer action names its point, as screen fractions
            assert {"x", "y"} <= set(kwargs), line
            assert all(0 <= kwargs[k] <= 1 and round(kwargs[k], 4) == kwargs[k] for k in ("x", "y")), line
        out.append((name, kwargs, args))
    return out


@pytest.fixture
def built(tmp_path: Path) -> Path:
    sid = form_session(tmp_path / "d")
    return build(tmp_path / "d", sid, "agentnet", tmp_path / "out")


def test_every_line_validates_against_the_shipped_schema_and_the_card_loads_it_with_datasets(built: Path) -> None:
    schema = json.loads((built / "agentnet.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    lines = [json.loads(line) for line in (built / "agentnet.jsonl").read_text().splitlines()]
    for line in lines:
        jsonschema.validate(line, schema)
    # the card's configs name the file; a cache of its own, as `datasets` keys one by directory name
    loaded = datasets.load_dataset(str(built), cache_dir=str(built.parent / "cache"))
    assert list(loaded) == ["trajectories"]
    ds = loaded["trajectories"]
    assert ds.num_rows == 1 and ds[0]["instruction"] == INSTRUCTION and ds[0]["task_completed"] is True
    traj = ds[0]["traj"]
    assert [s["index"] for s in traj] == list(range(len(TYPES)))
    assert traj[0]["value"]["code"] == "pyautogui.click(x=0.1100, y=0.4200)"
    assert traj[0]["value"]["action"] == "Click the button 'Save' at (0.1100, 0.4200)"
    assert traj[0]["value"]["observation"] is None and traj[0]["value"]["last_step_correct"] is None


def test_a_line_missing_a_field_or_with_foreign_code_fails_the_schema(built: Path) -> None:
    schema = json.loads((built / "agentnet.schema.json").read_text())
    line = json.loads((built / "agentnet.jsonl").read_text())
    broken = json.loads(json.dumps(line))
    broken["traj"][0]["value"]["code"] = "xdotool click 1"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    del line["task_completed"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(line, schema)


def test_every_code_line_is_a_call_opencua_allows_and_the_last_terminates(built: Path) -> None:
    traj = json.loads((built / "agentnet.jsonl").read_text())["traj"]
    parsed = [calls(s["value"]["code"]) for s in traj]
    assert parsed[-1] == [("computer.terminate", {"status": "success"}, [])]
    assert all(name != "computer.terminate" for step in parsed[:-1] for name, _, _ in step)
    assert [name for name, _, _ in parsed[1]] == ["pyautogui.keyDown", "pyautogui.click", "pyautogui.keyUp"]
    assert parsed[6] == [("pyautogui.moveTo", {"x": 0.35, "y": 0.52}, []), ("pyautogui.scroll", {}, [-3])]
    assert parsed[9][1:] == [("pyautogui.write", {"message": "Norway"}, []), ("pyautogui.press", {}, ["enter"])]


def test_each_step_says_what_it_does_and_names_the_element_when_known(built: Path) -> None:
    traj = json.loads((built / "agentnet.jsonl").read_text())["traj"]
    said = [s["value"]["action"] for s in traj]
    assert said[1] == "Shift+click at (0.7000, 0.6000)"
    assert said[2] == "Type \"a\" into the textbox 'Email'"
    assert said[3] == "Double-click at (0.4110, 0.7220)"
    assert said[6] == "Scroll down 3 at (0.3500, 0.5200)"
    assert said[7] == "Press ctrl+c"
    assert said[9] == "Choose 'Norway' in the combobox 'Country' at (0.3100, 0.2200)"
    assert said[-1] == "Terminate the task (success)"


def test_screenshots_are_files_in_images_named_by_task_and_index(built: Path) -> None:
    line = json.loads((built / "agentnet.jsonl").read_text())
    for s in line["traj"]:
        assert s["image"] == f"{line['task_id']}_{s['index']}.png"
        with Image.open(built / "images" / s["image"]) as shot:
            assert shot.size == (W, H) and shot.convert("RGB").getcolors() == [(W * H, (255, 255, 255))]


@pytest.mark.parametrize(("status", "completed", "terminate"), [
    ("success", True, "success"), ("fail", False, "failure"), ("unknown", None, "success")])
def test_the_end_said_at_a_task_end_is_task_completed_and_the_terminate_status(
        tmp_path: Path, status: str, completed: bool | None, terminate: str) -> None:
    steps = [ExportStep(step=0, t_ms=0, app=None, title=None, url=None, image=None,
                        action={"type": "click", "x": 0.5, "y": 0.5, "button": "left", "count": 3, "keys": []}),
             ExportStep(step=1, t_ms=0, app=None, title=None, url=None, image=None,
                        action={"type": "terminate", "status": status})]
    ep = ExportEpisode(episode_id="e1", contributor="p", split="test", instruction="", status=status,
                       screen=(800, 600), steps=steps)
    with open_exporter("agentnet", out=tmp_path / "out") as exporter:
        exporter.add(ep)
        exporter.close(BuildSummary(fmt="agentnet"))
    line = json.loads((tmp_path / "out" / "agentnet.jsonl").read_text())
    jsonschema.validate(line, json.loads((tmp_path / "out" / "agentnet.schema.json").read_text()))
    assert line["task_completed"] is completed
    assert [calls(s["value"]["code"]) for s in line["traj"]] == [
        [("computer.triple_click", {"x": 0.5, "y": 0.5}, [])],
        [("computer.terminate", {"status": terminate}, [])]]
    assert [s["image"] for s in line["traj"]] == [None, None]
