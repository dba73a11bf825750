"""`chat --coords` and `--style`: pixel code that lands on the recorded pixel, the 0-1000 grid,
UI-TARS action strings, and options refused in one line before anything is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import jsonschema
import pytest

from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.export.base import BuildSummary, ExportEpisode, ExportStep
from deskscribe.dataset.export.coords import Scale
from tests.dataset.export.scripted import POINTS, build, form_session
from tests.support import one_line_error, run


def step(i: int, **action: Any) -> ExportStep:
    return ExportStep(step=i, t_ms=i * 100, app="editor", title=None, url=None, action=action, image=None)


def small_episode(status: str = "success") -> ExportEpisode:
    """Six actions on a 1920 x 1080 screen, fractions chosen so the grid values are easy to
    work out by hand (0.4114 * 1000 = 411.4 -> 411; 0.3607 * 1000 = 360.7 -> 361)."""
    steps = [
        step(0, type="click", x=0.4114, y=0.3607, button="left", count=1, keys=[]),
        step(1, type="click", x=0.25, y=0.5, button="left", count=2, keys=[]),
        step(2, type="click", x=0.9996, y=0.0004, button="right", count=1, keys=["ctrl"]),
        step(3, type="drag", x=0.1, y=0.2, x2=0.3, y2=0.4, button="left", keys=[]),
        step(4, type="key", keys=["ctrl", "c"]),
        step(5, type="type", text="it's\nhere"),
        step(6, type="scroll", x=0.5, y=0.5, dx=0, dy=-3),
        step(7, type="scroll", x=0.5, y=0.5, dx=2, dy=0),
        step(8, type="terminate", status=status),
    ]
    return ExportEpisode(episode_id="e1", contributor="p1", split="train", instruction="copy it",
                         status=status, screen=(1920, 1080), steps=steps)


def gpt_turns(out: Path) -> list[str]:
    return [json.loads(line)["conversations"][1]["value"] for line in (out / "chat.jsonl").read_text().splitlines()]


def export(tmp_path: Path, ep: ExportEpisode, **options: str) -> Path:
    out = tmp_path / "-".join(["chat", *options.values()])
    with open_exporter("chat", out=out, **options) as exporter:
        exporter.add(ep)
        exporter.close(BuildSummary(fmt="chat"))
    schema = json.loads((out / "chat.schema.json").read_text())
    for line in (out / "chat.jsonl").read_text().splitlines():
        jsonschema.validate(json.loads(line), schema)
    return out


def test_uitars_strings_on_the_1000_grid_are_the_hand_computed_ones(tmp_path: Path) -> None:
    turns = gpt_turns(export(tmp_path, small_episode(), style="uitars", coords="1000"))
    assert turns == [
        "click(start_box='(411,361)')",
        "left_double(start_box='(250,500)')",
        "keydown(key='ctrl')\n\nright_single(start_box='(1000,0)')\n\nkeyup(key='ctrl')",
        "drag(start_box='(100,200)', end_box='(300,400)')",
        "hotkey(key='ctrl c')",
        "type(content='it\\'s\\nhere')",
        "scroll(start_box='(500,500)', direction='down')",
        "scroll(start_box='(500,500)', direction='right')",
        "finished()",
    ]


def test_a_task_ended_as_failed_ends_in_call_user(tmp_path: Path) -> None:
    assert gpt_turns(export(tmp_path, small_episode("fail"), style="uitars"))[-1] == "call_user()"


def test_pyautogui_code_on_the_1000_grid_and_in_pixels(tmp_path: Path) -> None:
    grid = gpt_turns(export(tmp_path, small_episode(), coords="1000"))
    assert grid[0] == "pyautogui.click(x=411, y=361)"
    assert grid[3] == "pyautogui.moveTo(x=100, y=200)\npyautogui.dragTo(x=300, y=400, button='left')"
    pixels = gpt_turns(export(tmp_path, small_episode(), coords="pixel"))
    assert pixels[0] == "pyautogui.click(x=790, y=390)"  # 0.4114 * 1920 = 789.9, 0.3607 * 1080 = 389.6
    # 0.9996 * 1920 = 1919.2; 0.0004 * 1080 = 0.43: the last column and the first row
    assert pixels[2] == "pyautogui.keyDown('ctrl')\npyautogui.click(x=1919, y=0, button='right')\npyautogui.keyUp('ctrl')"
    assert pixels[6] == "pyautogui.scroll(-3, x=960, y=540)"


def test_without_options_the_code_is_fractions_as_before(tmp_path: Path) -> None:
    turns = gpt_turns(export(tmp_path, small_episode()))
    assert turns[0] == "pyautogui.click(x=0.4114, y=0.3607)"
    assert turns[-1] == "computer.terminate(status='success')"
    assert "screen fractions" in json.loads((tmp_path / "chat" / "chat.schema.json").read_text())["description"]


@pytest.mark.parametrize("size", [1366, 1920, 2560, 3840, 7680])
def test_pixels_made_back_from_stored_fractions_are_the_recorded_ones(size: int) -> None:
    """A build stores round(px / size, 6): every pixel of the screen comes back exactly."""
    scale = Scale("pixel", (size, size))
    back = [scale.point({"x": round(px / size, 6), "y": round(px / size, 6)})[0] for px in range(size)]
    assert back == list(range(size))


def test_pixel_code_of_a_recorded_session_names_the_recorded_pixels(tmp_path: Path) -> None:
    sid = form_session(tmp_path / "d")
    turns = gpt_turns(build(tmp_path / "d", sid, "chat", tmp_path / "out", coords="pixel"))
    for turn, point in zip(turns, POINTS, strict=True):
        if point is not None:
            assert f"x={point[0]}, y={point[1]}" in turn, (turn, point)


@pytest.mark.parametrize(("options", "message"), [
    ({"coords": "percent"}, "coords must be one of fraction, pixel, 1000, not 'percent'"),
    ({"style": "claude"}, "style must be one of pyautogui, uitars, not 'claude'"),
])
def test_open_exporter_refuses_an_unknown_value(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_exporter("chat", out=tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_open_exporter_refuses_an_option_the_format_does_not_take(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"the jsonl format takes no coords option \(formats that do: chat, grounding\)"):
        open_exporter("jsonl", out=tmp_path / "out", coords="pixel")
    with pytest.raises(ValueError, match="the grounding format takes no style option"):
        open_exporter("grounding", out=tmp_path / "out", style="uitars")


@pytest.mark.parametrize(("args", "needle"), [
    (["--format", "chat", "--coords", "percent"], "--coords must be one of fraction, pixel, 1000, not 'percent'"),
    (["--format", "chat", "--style", "tars"], "--style must be one of pyautogui, uitars, not 'tars'"),
    (["--format", "jsonl", "--coords", "pixel"], "--coords does not apply to --format jsonl; it applies to chat and grounding"),
    (["--format", "grounding", "--style", "uitars"], "--style does not apply to --format grounding; it applies to chat"),
    (["--format", "agentnet", "--coords", "1000"], "--coords does not apply to --format agentnet"),
])
def test_the_cli_refuses_a_wrong_option_in_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    sid = form_session(tmp_path / "d")
    out = run("build", sid, "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "out"), *args)
    one_line_error(out, needle)
    assert not (tmp_path / "out").exists()


def test_the_cli_builds_uitars_chat_on_the_grid_and_the_card_says_how(tmp_path: Path) -> None:
    sid = form_session(tmp_path / "d")
    out = run("build", sid, "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "out"),
              "--format", "chat", "--style", "uitars", "--coords", "1000")
    assert out.returncode == 0, out.stderr
    assert gpt_turns(tmp_path / "out")[0] == "click(start_box='(110,420)')"  # (110, 210) of 1000 x 500
    card = (tmp_path / "out" / "README.md").read_text()
    assert "screen fractions with four decimals by default (`--coords fraction`)" in card
    assert "pyautogui code by default (`--style pyautogui`)" in card
    loaded = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == ["conversations"] and loaded["conversations"].num_rows == len(POINTS)
    description = json.loads((tmp_path / "out" / "chat.schema.json").read_text())["description"]
    assert description == "gpt turn: uitars actions, coordinates as integers on the 0-1000 grid (Qwen-VL, UI-TARS)"
