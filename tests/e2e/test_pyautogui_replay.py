"""`chat --coords pixel` code, run one step at a time by real pyautogui on a virtual screen of
the recorded size, puts the pointer within a pixel of where the person's pointer was."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend
from deskscribe.vdisplay import VirtualDisplay

from .conftest import deskscribe

pytestmark = pytest.mark.slow
MS = 1_000_000
W, H = 1366, 768  # not a round size: fractions of it do not come out even
# pyautogui's Xlib fork replaces the one capture uses, so it has a venv of its own.
PYAUTOGUI_PYTHON = Path(__file__).resolve().parents[2] / ".venv-pyautogui" / "bin" / "python"

RUNNER = """
import json, subprocess, sys, time
import pyautogui

pyautogui.FAILSAFE = False  # a recorded click may be in a corner of the screen
pyautogui.PAUSE = 0.02


class Computer:  # the computer.* call that ends an episode
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


report = open(sys.argv[2], "w")  # stdout also gets Xlib's chatter
print(json.dumps(list(pyautogui.size())), file=report, flush=True)
scope = {"pyautogui": pyautogui, "time": time, "computer": Computer()}
for code in json.load(open(sys.argv[1])):
    exec(code, scope)
    shell = subprocess.run(["xdotool", "getmouselocation", "--shell"], capture_output=True, text=True,
                           check=True).stdout
    print(json.dumps(dict(line.split("=", 1) for line in shell.split())), file=report, flush=True)
"""


def press(t: int, x: int, y: int, button: str = "left", **more: Any) -> list[tuple[int, str, dict[str, Any]]]:
    return [(t, "mouse_down", {"x": x, "y": y, "button": button, **more}),
            (t + 50, "mouse_up", {"x": x, "y": y, "button": button})]


# What the person did, and where the pointer was after each step (None: a keyboard step, the end).
SCRIPT: list[tuple[int, str, dict[str, Any]]] = [
    *press(1000, 457, 211),
    *press(2000, 1365, 767, "right"),
    *press(3000, 683, 384), *press(3200, 683, 384),
    *press(4000, 0, 0, mods=["shift"]),
    (5000, "mouse_down", {"x": 100, "y": 500, "button": "left"}),
    (5300, "mouse_up", {"x": 901, "y": 123, "button": "left"}),
    (6000, "scroll", {"x": 777, "y": 333, "dx": 0, "dy": -3}),
    (7000, "mouse_move", {"x": 1001, "y": 599}),
    (9000, "key_down", {"key": "a", "char": "a", "vk": 0, "mods": []}),
    (9040, "key_up", {"key": "a", "char": "a", "vk": 0, "mods": []}),
    (11000, "mouse_down", {"x": 222, "y": 444, "button": "left"}),
    (12000, "mouse_up", {"x": 222, "y": 444, "button": "left"}),
]
LANDS: list[tuple[str, tuple[int, int] | None]] = [  # the action each step is, and where it ends
    ("click", (457, 211)), ("click", (1365, 767)), ("click", (683, 384)), ("click", (0, 0)),
    ("drag", (901, 123)), ("scroll", (777, 333)), ("move", (1001, 599)), ("type", None),
    ("long_press", (222, 444)), ("terminate", None)]


def recorded(root: Path) -> None:
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    w = dd.create(SessionMeta(session_id=dd.new_session_id(), contributor_id=dd.contributor_id, started_wall_ns=0,
                              os="Linux", monitors=(Monitor(0, 0, W, H),), double_click_ms=400,
                              double_click_px=5, policy_version="p", recorder_version="r"))
    for t, kind, data in SCRIPT:
        w.add_event(Event(t_ns=t * MS, kind=kind, data=data))
    w.close(seal=True)


def test_pixel_chat_code_lands_on_the_recorded_pixels(tmp_path: Path) -> None:
    if not PYAUTOGUI_PYTHON.exists():
        pytest.fail(f"{PYAUTOGUI_PYTHON} is missing: run ./dev setup, which installs pyautogui there")
    recorded(tmp_path / "d")
    out = tmp_path / "out"
    deskscribe("build", "--data-dir", str(tmp_path / "d"), "--out", str(out), "--format", "chat", "--coords", "pixel")
    records = [json.loads(line) for line in (out / "chat.jsonl").read_text().splitlines()]
    codes = [r["conversations"][1]["value"] for r in records]
    (tmp_path / "codes.json").write_text(json.dumps(codes))
    (tmp_path / "runner.py").write_text(RUNNER)
    (tmp_path / "Xauthority").touch()  # pyautogui's Xlib will not connect without one
    vd = VirtualDisplay(width=W, height=H, window_manager=False).start()
    try:
        ran = subprocess.run([str(PYAUTOGUI_PYTHON), str(tmp_path / "runner.py"), str(tmp_path / "codes.json"),
                              str(tmp_path / "where.jsonl")],
                             env={**vd.env, "XAUTHORITY": str(tmp_path / "Xauthority")},
                             capture_output=True, text=True, timeout=120)
    finally:
        vd.stop()
    assert ran.returncode == 0, ran.stderr
    size, *after = [json.loads(line) for line in (tmp_path / "where.jsonl").read_text().splitlines()]
    assert size == [W, H]
    assert len(after) == len(codes) == len(LANDS), codes
    for code, where, (_, point) in zip(codes, after, LANDS, strict=True):
        assert not re.search(r"\b[xy]=\d*\.", code), code  # integer pixels, not fractions
        if point is not None:
            assert abs(int(where["X"]) - point[0]) <= 1 and abs(int(where["Y"]) - point[1]) <= 1, (code, where, point)
