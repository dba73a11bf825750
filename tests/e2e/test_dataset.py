"""Record a scripted scenario on a real xterm, build every format, compare with ground truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import mss
import numpy as np
import pytest
from PIL import Image

from deskscribe.vdisplay import VirtualDisplay

from .conftest import RecorderProcess, deskscribe

pytestmark = pytest.mark.slow
W, H = 1280, 800

# What the script below does, in pixels: the dataset must say exactly this, in this order.
GROUND_TRUTH: list[dict[str, Any]] = [
    {"type": "click", "x": 300, "y": 200, "button": "left", "count": 1},
    {"type": "type", "text": "Hello, World!"},
    {"type": "key", "keys": ["enter"]},
    {"type": "key", "keys": ["ctrl", "shift", "t"]},
    {"type": "click", "x": 350, "y": 260, "button": "left", "count": 2},
    {"type": "scroll", "x": 350, "y": 260, "dx": 0, "dy": -3},
    {"type": "move", "x": 500, "y": 400},
    {"type": "drag", "x": 60, "y": 66, "x2": 200, "y2": 66, "button": "left"},
    {"type": "click", "x": 250, "y": 400, "button": "left", "count": 1},
    {"type": "terminate", "status": "unknown"},
    # the chat dialog was focused in between: a second episode
    {"type": "click", "x": 320, "y": 420, "button": "left", "count": 1},
    {"type": "terminate", "status": "unknown"},
]


def grab_xterm(vd: VirtualDisplay, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    with mss.MSS(display=vd.name) as sct:
        shot = sct.grab({"left": x, "top": y, "width": w, "height": h})
    return np.asarray(Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX"))


@pytest.fixture(scope="module")
def recorded(vd: VirtualDisplay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("dataset")
    policy = tmp / "policy.toml"
    policy.write_text('version = "ds-1"\ndesignated_apps = ["XTerm"]\nscreenshot_interval_s = 30\n')
    term = vd.spawn(["xterm", "-T", "Dataset", "-geometry", "100x40+40+40", "-e", "cat"])
    chat = vd.spawn(["zenity", "--entry", "--title", "Side Chat", "--text", "hi"])
    xterm = vd.wait_window(name="Dataset")
    dialog = vd.wait_window(name="Side Chat")
    vd.xdotool("windowmove", "--sync", dialog, "800", "100")
    vd.activate(xterm)
    rec = RecorderProcess(vd=vd, data_dir=tmp / "data", policy=policy).start()
    x = vd.xdotool
    x("mousemove", "--sync", "300", "200")
    x("click", "1")
    time.sleep(1.2)
    x("type", "--delay", "40", "Helo")
    x("key", "--delay", "40", "BackSpace")
    x("type", "--delay", "40", "lo, World!")
    x("key", "Return")
    time.sleep(0.3)
    x("key", "ctrl+shift+t")
    x("mousemove", "--sync", "350", "260")
    time.sleep(0.3)
    x("click", "--repeat", "2", "--delay", "80", "1")
    time.sleep(0.6)
    x("click", "--repeat", "3", "--delay", "100", "5")
    time.sleep(0.6)
    x("mousemove", "--sync", "500", "400")
    time.sleep(1.5)  # a hover: the pointer rests and no click follows there
    x("mousemove", "--sync", "60", "66")
    x("mousedown", "1")
    x("mousemove", "--sync", "120", "66")
    x("mousemove", "--sync", "200", "66")
    x("mouseup", "1")  # selects the first line: the click below clears the highlight
    time.sleep(0.4)
    x("mousemove", "--sync", "250", "400")
    time.sleep(0.8)
    box = (41, 60, 604, 524)
    before = grab_xterm(vd, box)
    x("click", "1")
    time.sleep(0.8)
    after = grab_xterm(vd, box)
    vd.activate(dialog)
    x("type", "--delay", "30", "not recorded")
    vd.activate(xterm)
    x("mousemove", "--sync", "320", "420")
    time.sleep(0.3)
    x("click", "1")
    rec.stop()
    yield {"rec": rec, "tmp": tmp, "before": before, "after": after, "box": box}
    for proc in (term, chat):
        proc.terminate()


def build(recorded: dict[str, Any], fmt: str) -> Path:
    out = recorded["tmp"] / f"out-{fmt}"
    if not out.exists():
        deskscribe("build", "--data-dir", str(recorded["rec"].data_dir), "--out", str(out), "--format", fmt)
    return out


def pixels(action: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in action.items() if v is not None and v != []}
    for key, size in (("x", W), ("x2", W), ("y", H), ("y2", H)):
        if key in out:
            out[key] = out[key] * size
    return out


def assert_matches_ground_truth(actions: list[dict[str, Any]]) -> None:
    assert [a["type"] for a in actions] == [g["type"] for g in GROUND_TRUTH]
    for got, want in zip(actions, GROUND_TRUTH, strict=True):
        got = pixels(got)
        for key, value in want.items():
            if key in ("x", "y", "x2", "y2"):
                assert abs(got[key] - value) <= 1, (key, got, want)
            else:
                assert got[key] == value, (key, got, want)


def test_jsonl_export_equals_the_injected_ground_truth(recorded: dict[str, Any]) -> None:
    out = build(recorded, "jsonl")
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert_matches_ground_truth([s["action"] for s in steps])
    assert {s["screen"]["w"] for s in steps} == {W} and {s["app"] for s in steps} == {"XTerm"}
    assert len({s["episode_id"] for s in steps}) == 2
    for s in steps:
        assert s["image"] and (out / s["image"]).exists()
        assert s["t_ms"] % 100 == 0
    text = (out / "steps.jsonl").read_text() + (out / "README.md").read_text()
    assert "not recorded" not in text and "Side Chat" not in text
    assert recorded["rec"].session_id not in text
    card = (out / "README.md").read_text()
    assert "ds-1" in card and "12 steps" in card and "2026" not in card


def test_step_image_is_the_screen_before_the_click(vd: VirtualDisplay, tmp_path: Path) -> None:
    """Selecting a row in a GTK list visibly changes it: the step shows the list before."""
    policy = tmp_path / "policy.toml"
    policy.write_text('designated_apps = ["Zenity"]\nscreenshot_interval_s = 30\n')
    proc = vd.spawn(["zenity", "--list", "--title", "Fruit", "--column", "Fruit", "apple", "banana", "cherry"])
    try:
        win = vd.wait_window(name="Fruit")
        vd.activate(win)
        box = window_box(vd, win)
        rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy).start()
        vd.xdotool("mousemove", "--sync", str(box[0] + 60), str(box[1] + 90))
        time.sleep(0.8)
        before = grab_xterm(vd, box)
        vd.xdotool("click", "1")
        time.sleep(0.8)
        after = grab_xterm(vd, box)
        rec.stop()
    finally:
        proc.terminate()
    out = tmp_path / "out"
    deskscribe("build", "--data-dir", str(rec.data_dir), "--out", str(out), "--format", "jsonl")
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["action"]["type"] for s in steps] == ["click", "terminate"]
    x, y, w, h = box
    shown = np.asarray(Image.open(out / steps[0]["image"]).convert("RGB"))[y:y + h, x:x + w]
    final = np.asarray(Image.open(out / steps[1]["image"]).convert("RGB"))[y:y + h, x:x + w]
    assert not np.array_equal(before, after)  # the click changed the app
    assert np.array_equal(shown, before)
    assert np.array_equal(final, after)


def window_box(vd: VirtualDisplay, win: str) -> tuple[int, int, int, int]:
    out = subprocess.run(["xwininfo", "-id", win], env=vd.env, capture_output=True, text=True,
                         check=True).stdout
    f = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
    return (int(f["Absolute upper-left X"]), int(f["Absolute upper-left Y"]), int(f["Width"]), int(f["Height"]))


def test_hf_export_loads_with_datasets(recorded: dict[str, Any]) -> None:
    out = build(recorded, "hf")
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    script = (
        "import json, sys, datasets\n"
        f"ds = datasets.load_dataset('parquet', data_dir={str(out)!r})\n"
        "split = list(ds.keys())\n"
        "rows = [r for s in split for r in ds[s]]\n"
        "img = rows[0]['image']\n"
        "print(json.dumps({'splits': split, 'size': img.size, 'feature': type(ds[split[0]].features['image']).__name__,"
        " 'actions': [r['action'] for r in rows], 'contributors': sorted({r['contributor'] for r in rows})}))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["feature"] == "Image" and loaded["size"] == [W, H]
    assert len(loaded["splits"]) == 1  # one contributor: one split
    assert_matches_ground_truth(loaded["actions"])


def test_chat_export_follows_its_schema(recorded: dict[str, Any]) -> None:
    out = build(recorded, "chat")
    schema = json.loads((out / "chat.schema.json").read_text())
    records = [json.loads(line) for line in (out / "chat.jsonl").read_text().splitlines()]
    for r in records:
        jsonschema.validate(r, schema)
    targets = [r["conversations"][1]["value"] for r in records]
    assert targets[0] == f"pyautogui.click(x={300 / W:.4f}, y={200 / H:.4f})"
    assert targets[1] == "pyautogui.write('Hello, World!')"
    assert targets[3] == "pyautogui.hotkey('ctrl', 'shift', 't')"
    assert targets[4].startswith("pyautogui.doubleClick(")
    assert targets[9] == "computer.terminate(status='unknown')"
    assert "pyautogui.write('Hello, World!')" in records[2]["conversations"][0]["value"]  # history


def test_build_refuses_bad_input(recorded: dict[str, Any], tmp_path: Path) -> None:
    data = str(recorded["rec"].data_dir)
    bad = deskscribe("build", "--data-dir", data, "--out", str(tmp_path / "x"), "--format", "csv", check=False)
    assert bad.returncode == 2 and "unknown format" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    busy = deskscribe("build", "--data-dir", data, "--out", str(tmp_path / "full"), check=False)
    assert busy.returncode == 2 and "not empty" in busy.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    empty = deskscribe("build", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "y"), check=False)
    assert empty.returncode == 2 and "no sealed sessions" in empty.stderr


def test_task_commands_make_an_episode_with_instruction_and_outcome(
        vd: VirtualDisplay, xterm_for_tasks: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('designated_apps = ["XTerm"]\nscreenshot_interval_s = 30\n')
    data = tmp_path / "data"
    vd.activate(xterm_for_tasks)
    rec = RecorderProcess(vd=vd, data_dir=data, policy=policy).start()
    second = deskscribe("record", "--policy", str(policy), "--data-dir", str(data), "--display", vd.name,
                        "--duration", "1", check=False)
    assert second.returncode == 2 and "already running" in second.stderr
    busy = deskscribe("sessions", "delete", rec.session_id, "--data-dir", str(data), check=False)
    assert busy.returncode == 2 and "being recorded" in busy.stderr
    vd.xdotool("mousemove", "--sync", "200", "560")
    vd.xdotool("click", "1")
    deskscribe("task", "start", "Write a greeting", "--data-dir", str(data))
    vd.xdotool("type", "--delay", "30", "hi there")
    vd.xdotool("key", "Return")
    deskscribe("task", "end", "--status", "success", "--data-dir", str(data))
    vd.xdotool("click", "1")
    rec.stop()
    missing = deskscribe("task", "end", "--data-dir", str(data), check=False)
    assert missing.returncode == 2 and "no recorder is running" in missing.stderr
    out = tmp_path / "out"
    deskscribe("build", "--data-dir", str(data), "--out", str(out), "--format", "jsonl")
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [(s["instruction"], s["action"]["type"]) for s in steps] == [
        ("Write a greeting", "type"), ("Write a greeting", "key"), ("Write a greeting", "terminate")]
    assert steps[0]["action"]["text"] == "hi there" and steps[-1]["action"]["status"] == "success"


@pytest.fixture(scope="module")
def xterm_for_tasks(vd: VirtualDisplay) -> Iterator[str]:
    proc = vd.spawn(["xterm", "-T", "Tasks", "-geometry", "60x10+100+500", "-e", "cat"])
    yield vd.wait_window(name="Tasks")
    proc.terminate()


def test_replay_reproduces_a_recorded_episode(tmp_path: Path) -> None:
    launch = ["xterm", "-T", "Replayed", "-geometry", "80x20+40+40", "-e", "cat"]
    policy = tmp_path / "policy.toml"
    policy.write_text('designated_apps = ["XTerm"]\nscreenshot_interval_s = 30\n')
    with VirtualDisplay() as own:  # recorded on a clean desktop, as the replay will be
        own.spawn(launch)
        own.activate(own.wait_window(name="Replayed"))
        rec = RecorderProcess(vd=own, data_dir=tmp_path / "data", policy=policy).start()
        x = own.xdotool
        x("mousemove", "--sync", "200", "150")
        x("click", "1")
        time.sleep(1.2)
        x("type", "--delay", "40", "first line")
        x("key", "Return")
        time.sleep(1.2)
        x("type", "--delay", "40", "Second: 42!")
        x("key", "Return")
        time.sleep(1.0)
        rec.stop()
    out = tmp_path / "out"
    deskscribe("build", "--data-dir", str(rec.data_dir), "--out", str(out), "--format", "jsonl")
    result = deskscribe("replay", str(out), "--launch", " ".join(launch))
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("replayed episode") and "5/5 steps reproduce" in lines[-1], result.stdout
    broken = deskscribe("replay", str(tmp_path), "--launch", "xterm", check=False)
    assert broken.returncode == 2 and "no steps.jsonl" in broken.stderr


def test_modifier_clicks_keep_their_modifiers(vd: VirtualDisplay, tmp_path: Path) -> None:
    """A shift-click and a ctrl-click are not clicks: the dataset and its code say which keys
    were held, and a plain click says none."""
    policy = tmp_path / "policy.toml"
    policy.write_text('designated_apps = ["XTerm"]\nscreenshot_interval_s = 30\n')
    proc = vd.spawn(["xterm", "-T", "Modifiers", "-geometry", "60x10+680+420", "-e", "cat"])
    try:
        vd.activate(vd.wait_window(name="Modifiers"))
        rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy).start()
        x = vd.xdotool
        for point, chord in (((760, 470), ["keydown", "shift", "click", "1", "keyup", "shift"]),
                             ((860, 500), ["keydown", "ctrl", "click", "1", "keyup", "ctrl"]),
                             ((800, 530), ["click", "1"])):
            x("mousemove", "--sync", *map(str, point))
            x(*chord)
            time.sleep(0.6)
        rec.stop()
    finally:
        proc.terminate()
    out = {fmt: tmp_path / fmt for fmt in ("jsonl", "chat")}
    for fmt, path in out.items():
        deskscribe("build", "--data-dir", str(rec.data_dir), "--out", str(path), "--format", fmt)
    steps = [json.loads(line) for line in (out["jsonl"] / "steps.jsonl").read_text().splitlines()]
    clicks = [pixels(s["action"]) | {"keys": s["action"]["keys"]} for s in steps if s["action"]["type"] == "click"]
    assert [(round(c["x"]), round(c["y"]), c["keys"], c["count"]) for c in clicks] == [
        (760, 470, ["shift"], 1), (860, 500, ["ctrl"], 1), (800, 530, [], 1)]
    code = [json.loads(line)["conversations"][1]["value"]
            for line in (out["chat"] / "chat.jsonl").read_text().splitlines()]
    assert code[:3] == [
        f"pyautogui.keyDown('shift')\npyautogui.click(x={760 / W:.4f}, y={470 / H:.4f})\npyautogui.keyUp('shift')",
        f"pyautogui.keyDown('ctrl')\npyautogui.click(x={860 / W:.4f}, y={500 / H:.4f})\npyautogui.keyUp('ctrl')",
        f"pyautogui.click(x={800 / W:.4f}, y={530 / H:.4f})"]
