"""The recorder as a contributor runs it: its own process, real apps, input injected by XTEST."""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mss
import numpy as np
import pytest
from PIL import Image
from Xlib import X, display
from Xlib.ext import xtest

from deskscribe.vdisplay import VirtualDisplay
from tests.support import geometry

from .conftest import RecorderProcess, deskscribe

pytestmark = pytest.mark.slow

TITLE_CANARY = "Quarterly CanaryTitle 7731"


@pytest.fixture(scope="module")
def xterm(vd: VirtualDisplay) -> Iterator[str]:
    proc = vd.spawn(["xterm", "-T", TITLE_CANARY, "-geometry", "100x40+40+40", "-e", "cat"])
    win = vd.wait_window(name=TITLE_CANARY)
    yield win
    proc.terminate()


@pytest.fixture(scope="module")
def zenity(vd: VirtualDisplay, xterm: str) -> Iterator[str]:
    proc = vd.spawn(["zenity", "--entry", "--title", "Team Chat", "--text", "Message"])
    win = vd.wait_window(name="Team Chat")
    vd.xdotool("windowmove", "--sync", win, "700", "100")
    yield win
    proc.terminate()


def kinds(events: list[dict[str, object]], *wanted: str) -> list[dict[str, object]]:
    return [e for e in events if e["kind"] in wanted]


def test_every_injected_input_arrives_with_coordinates_and_characters(
        vd: VirtualDisplay, xterm: str, recorder: RecorderProcess) -> None:
    vd.activate(xterm)
    recorder.start()
    vd.xdotool("mousemove", "--sync", "200", "150")
    vd.xdotool("mousemove", "--sync", "333", "222")
    vd.xdotool("click", "1")
    vd.xdotool("click", "3")
    for button in ("4", "5", "6", "7"):
        vd.xdotool("click", button)
    vd.xdotool("type", "--delay", "20", "Hello, World! A_b")
    vd.xdotool("key", "ctrl+shift+t")
    vd.xdotool("key", "Return")
    recorder.stop()
    events = recorder.dump()

    moves = [(e["x"], e["y"]) for e in kinds(events, "mouse_move")]
    assert (200, 150) in moves and (333, 222) in moves
    presses = [(e["kind"], e["button"], e["x"], e["y"]) for e in kinds(events, "mouse_down", "mouse_up")]
    assert presses == [("mouse_down", "left", 333, 222), ("mouse_up", "left", 333, 222),
                       ("mouse_down", "right", 333, 222), ("mouse_up", "right", 333, 222)]
    scrolls = [(e["dx"], e["dy"], e["x"], e["y"]) for e in kinds(events, "scroll")]
    assert scrolls == [(0, 1, 333, 222), (0, -1, 333, 222), (-1, 0, 333, 222), (1, 0, 333, 222)]

    downs = kinds(events, "key_down")
    typed = "".join(str(e["char"]) for e in downs if (e["char"] is not None and not e["mods"]) or
                    (e["mods"] == ["shift"] and e["char"] is not None))
    assert typed.startswith("Hello, World! A_b")
    t_down = next(e for e in downs if e["key"] == "t")
    assert t_down["mods"] == ["ctrl", "shift"] and t_down["char"] == "T"
    assert downs[-1]["key"] == "enter"
    ups = {e["vk"] for e in kinds(events, "key_up")}
    assert {e["vk"] for e in downs} <= ups  # every press is released

    focus = kinds(events, "focus")[0]
    assert focus["app"] == "XTerm" and focus["title"] == TITLE_CANARY
    x, y, w, h = geometry(vd, xterm)
    assert focus["geometry"] == [x, y, w, h] and isinstance(focus["pid"], int)

    frames = kinds(events, "frame")
    click_idx = events.index(kinds(events, "mouse_down")[0])
    assert events[click_idx - 1]["kind"] == "frame" and events[click_idx - 1]["reason"] == "pre_action"
    assert all(len(f["region"]) == 4 and f["region"][2] > 0 for f in frames)

    raw = b"".join(p.read_bytes() for p in (recorder.data_dir / "sessions").iterdir())
    for canary in (b"Hello, World", b"CanaryTitle", TITLE_CANARY.encode("utf-16-le"), b"XTerm"):
        assert canary not in raw


def test_non_designated_app_leaves_only_an_excluded_marker(
        vd: VirtualDisplay, xterm: str, zenity: str, recorder: RecorderProcess) -> None:
    vd.activate(xterm)
    recorder.start()
    vd.xdotool("type", "--delay", "20", "before")
    time.sleep(0.5)  # focus is moved by a script, not by a click or a key that would end the burst
    vd.activate(zenity)
    zx, zy, zw, zh = geometry(vd, zenity)
    vd.xdotool("mousemove", "--sync", str(zx + 20), str(zy + 20))
    vd.xdotool("click", "1")
    vd.xdotool("type", "--delay", "20", "zenitysecret")
    time.sleep(0.5)
    vd.activate(xterm)
    vd.xdotool("type", "--delay", "20", "after")
    recorder.stop()
    events = recorder.dump()

    chars = "".join(str(e["char"]) for e in kinds(events, "key_down") if e["char"])
    assert chars == "beforeafter"
    assert not [e for e in events if e["kind"] == "focus" and e["app"] != "XTerm"]
    assert "Team Chat" not in str(events) and "zenity" not in str(events).lower()
    inside = [e for e in kinds(events, "mouse_move", "mouse_down", "mouse_up")
              if zx <= int(e["x"]) < zx + zw and zy <= int(e["y"]) < zy + zh]
    assert inside == []
    excluded = [e for e in kinds(events, "marker") if e["marker"] == "excluded"]
    assert len(excluded) == 1 and int(excluded[0]["duration_ms"]) >= 500


def test_designated_app_with_excluded_title_is_not_recorded(
        vd: VirtualDisplay, recorder: RecorderProcess) -> None:
    proc = vd.spawn(["xterm", "-T", "Private Notes", "-geometry", "40x10+500+500", "-e", "cat"])
    try:
        win = vd.wait_window(name="Private Notes")
        vd.activate(win)
        recorder.start()
        vd.xdotool("type", "--delay", "20", "diary")
        recorder.stop()
    finally:
        proc.terminate()
    events = recorder.dump()
    assert kinds(events, "key_down", "focus", "frame") == []
    assert [e["marker"] for e in kinds(events, "marker")] == ["start", "excluded", "stop"]


def test_frame_blacks_out_a_non_designated_window_over_a_designated_one(
        vd: VirtualDisplay, xterm: str, zenity: str, recorder: RecorderProcess, tmp_path: Path) -> None:
    vd.activate(xterm)
    vd.xdotool("windowmove", "--sync", zenity, "300", "200")
    vd.xdotool("windowraise", zenity)
    time.sleep(0.3)
    zx, zy, zw, zh = geometry(vd, zenity)
    with mss.MSS(display=vd.name) as sct:  # sanity: the dialog really is on screen there
        shot = np.asarray(sct.grab({"left": zx, "top": zy, "width": zw, "height": zh}))
    assert shot[:, :, :3].max() > 100
    active = vd.xdotool("getactivewindow")
    assert active == xterm

    recorder.start()
    vd.xdotool("mousemove", "--sync", "100", "120")
    vd.xdotool("click", "1")
    recorder.stop()
    deskscribe("sessions", "frames", recorder.session_id, "--data-dir", str(recorder.data_dir),
               "--out", str(tmp_path / "frames"))
    events = recorder.dump()
    click = events.index(kinds(events, "mouse_down")[0])
    assert events[click - 1]["kind"] == "frame"  # the screen as it was when the click happened
    frame_png = tmp_path / "frames" / f"frame-{int(events[click - 1]['frame_id']):06d}.png"
    frame = np.asarray(Image.open(frame_png).convert("RGB"))
    assert frame[zy:zy + zh, zx:zx + zw].max() == 0  # the dialog's pixels never stored
    x, y, _, _ = geometry(vd, xterm)
    assert np.median(frame[y:y + 100, x:x + 200]) == 255  # xterm's white background is kept
    assert frame[0:30, 1000:1280].max() == 0  # the bare desktop is not designated either


def test_kill_9_loses_at_most_the_last_second(vd: VirtualDisplay, xterm: str,
                                              recorder: RecorderProcess) -> None:
    vd.activate(xterm)
    recorder.start()
    disp = display.Display(vd.name)
    injected: list[tuple[float, int]] = []
    start = time.monotonic()
    x = 60
    while time.monotonic() - start < 3.0:
        xtest.fake_input(disp, X.MotionNotify, x=x, y=300)
        disp.sync()
        injected.append((time.monotonic(), x))
        x += 1
        time.sleep(0.01)
    assert recorder.proc is not None
    killed_at = time.monotonic()
    os.kill(recorder.proc.pid, signal.SIGKILL)
    recorder.proc.wait()
    disp.close()

    listed = deskscribe("sessions", "list", "--json", "--data-dir", str(recorder.data_dir)).stdout
    assert '"sealed": false' in listed
    stored = {int(e["x"]) for e in recorder.dump() if e["kind"] == "mouse_move"}
    must_have = [x for t, x in injected if t < killed_at - 1.0]
    assert len(must_have) > 100
    assert [x for x in must_have if x not in stored] == []


def test_doctor_is_happy_on_a_working_display(vd: VirtualDisplay, tmp_path: Path) -> None:
    out = deskscribe("doctor", "--display", vd.name, "--data-dir", str(tmp_path), check=False)
    assert out.returncode == 0, out.stdout
    assert "RECORD extension: present" in out.stdout and "ready to record" in out.stdout


def test_demo_records_the_terminal_and_excludes_the_chat(tmp_path: Path) -> None:
    out = deskscribe("demo", "--data-dir", str(tmp_path))
    assert "typed in the terminal: 'Release checklist: ship v0.1 on Friday!Done.'" in out.stdout
    assert "its text stored: no" in out.stdout
    assert "dataset: 2 episodes, 9 steps (click 1, key 3, scroll 1, terminate 2, type 2)" in out.stdout
    shards = list((tmp_path / "datasets").glob("demo-*/data/*.parquet"))
    assert len(shards) == 1  # one contributor: one split, whichever this release's key assigns
    listed = deskscribe("sessions", "list", "--json", "--data-dir", str(tmp_path)).stdout
    assert '"sealed": true' in listed


def test_display_going_away_seals_the_session_with_a_clear_error(tmp_path: Path,
                                                                policy_file: Path) -> None:
    own = VirtualDisplay().start()
    try:
        own.spawn(["xterm", "-geometry", "40x10+10+10", "-e", "cat"])
        own.activate(own.wait_window(cls="XTerm"))
        rec = RecorderProcess(vd=own, data_dir=tmp_path / "data", policy=policy_file).start()
        own.xdotool("type", "--delay", "20", "abc")
        time.sleep(0.5)
    finally:
        own.stop()  # the X server disappears under the recorder
    assert rec.proc is not None
    _, err = rec.proc.communicate(timeout=30)
    assert rec.proc.returncode == 2 and "Traceback" not in err, err
    assert "recording stopped early: the X display closed" in err
    events = rec.dump()
    assert "".join(str(e["char"]) for e in events if e["kind"] == "key_down") == "abc"
    listed = deskscribe("sessions", "list", "--json", "--data-dir", str(rec.data_dir)).stdout
    assert '"sealed": true' in listed


def dark_pixels(png: Path, box: tuple[int, int, int, int]) -> int:
    x, y, w, h = box
    frame = np.asarray(Image.open(png).convert("L"))
    return int((frame[y:y + h, x:x + w] < 100).sum())


def test_pre_action_frame_shows_the_screen_before_the_key_and_periodic_frames_need_change(
        vd: VirtualDisplay, recorder: RecorderProcess, tmp_path: Path) -> None:
    proc = vd.spawn(["xterm", "-T", "Fresh", "-geometry", "30x5+700+450", "-e", "cat"])
    try:
        win = vd.wait_window(name="Fresh")
        vd.activate(win)
        box = geometry(vd, win)
        recorder.start()
        time.sleep(3.5)  # idle: at most the first periodic frame, then nothing (no change)
        vd.xdotool("type", "WWWWWWWW")  # one typing burst: a pre-action frame before the first W
        # The echo changed the screen; once the burst is scanned (3 s of quiet: no frame shows
        # unscanned typing) the next periodic frame is due.
        time.sleep(4.5)
        recorder.stop()
    finally:
        proc.terminate()
    events = recorder.dump()
    frames = kinds(events, "frame")
    first_key = events.index(kinds(events, "key_down")[0])
    pre = events[first_key - 1]
    assert pre["kind"] == "frame" and pre["reason"] == "pre_action"
    periodic_before = [f for f in frames if f["reason"] == "periodic" and f["t_ns"] < pre["t_ns"]]
    assert len(periodic_before) <= 1
    after = [f for f in frames if f["reason"] == "periodic" and f["t_ns"] > pre["t_ns"]]
    assert after, "a changed screen gets a periodic frame"
    out = tmp_path / "frames"
    deskscribe("sessions", "frames", recorder.session_id, "--data-dir", str(recorder.data_dir),
               "--out", str(out))
    before = dark_pixels(out / f"frame-{int(pre['frame_id']):06d}.png", box)
    later = dark_pixels(out / f"frame-{int(after[-1]['frame_id']):06d}.png", box)
    assert later > before + 50  # the eight Ws are only in the later frame


def test_low_disk_pauses_frames_but_not_events(vd: VirtualDisplay, xterm: str, tmp_path: Path,
                                               policy_file: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[recorder]\nmin_free_mb = 1000000000\n")  # more than any disk has
    env = {**vd.env, "DESKSCRIBE_CONFIG": str(config)}
    vd.activate(xterm)
    deskscribe("consent", "accept", "--yes", "--policy", str(policy_file), "--data-dir", str(tmp_path / "data"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deskscribe", "record", "--policy", str(policy_file), "--data-dir",
         str(tmp_path / "data"), "--display", vd.name, "--duration", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    head = [proc.stderr.readline()]
    while not head[-1].startswith("recording session") and head[-1]:
        head.append(proc.stderr.readline())
    vd.xdotool("click", "1")
    vd.xdotool("type", "--delay", "20", "ok")
    # read on through readline's buffer: communicate() reads the pipe itself and would miss a
    # line that arrived in the same read as the one above
    err = "".join(head) + proc.stderr.read()
    proc.wait(timeout=30)
    assert proc.returncode == 0, err
    assert "disk space is low; screenshots paused" in err, err
    sid = next((tmp_path / "data" / "sessions").glob("*.db")).stem
    events = [json.loads(line) for line in deskscribe(
        "sessions", "dump", sid, "--data-dir", str(tmp_path / "data")).stdout.splitlines()]
    assert kinds(events, "frame") == []
    assert "ok" in "".join(str(e["char"]) for e in kinds(events, "key_down"))
    assert any(e.get("marker") == "frames_off" for e in kinds(events, "marker"))


def test_session_metadata_describes_the_desktop_not_the_person(
        vd: VirtualDisplay, xterm: str, recorder: RecorderProcess, tmp_path: Path) -> None:
    conf = tmp_path / "xsettingsd.conf"
    conf.write_text("Net/DoubleClickTime 250\nNet/DoubleClickDistance 7\n")
    settings = vd.spawn(["xsettingsd", "-c", str(conf)])
    try:
        disp = display.Display(vd.name)
        owner_atom = disp.intern_atom("_XSETTINGS_S0")
        deadline = time.monotonic() + 10
        while not disp.get_selection_owner(owner_atom) and time.monotonic() < deadline:
            time.sleep(0.1)
        disp.close()
        vd.activate(xterm)
        recorder.start()
        recorder.stop()
    finally:
        settings.terminate()
    out = deskscribe("sessions", "dump", recorder.session_id, "--meta", "--data-dir",
                     str(recorder.data_dir)).stdout
    meta = json.loads(out.splitlines()[0])
    assert meta["kind"] == "session"
    assert meta["monitors"] == [{"x": 0, "y": 0, "width": 1280, "height": 800, "scale": 1.0}]
    assert (meta["double_click_ms"], meta["double_click_px"]) == (250, 7)
    assert meta["extra"]["double_click_source"] == "xsettings"
    assert meta["policy_version"] == "test-1" and meta["recorder_version"]
    text = json.dumps(meta)
    for identifying in (socket.gethostname(), getpass.getuser()):
        assert f'"{identifying}"' not in text


def test_a_lock_screen_stops_capture_although_focus_stays(
        vd: VirtualDisplay, xterm: str, recorder: RecorderProcess) -> None:
    """i3lock grabs the keyboard over a designated window that keeps _NET_ACTIVE_WINDOW."""
    vd.activate(xterm)
    recorder.start()
    vd.xdotool("type", "--delay", "20", "before")
    locker = vd.spawn(["i3lock", "-n", "-c", "202020"])
    time.sleep(1.0)
    vd.xdotool("type", "--delay", "20", "lockpassword")
    vd.xdotool("key", "Return")
    time.sleep(0.3)
    locker.terminate()
    locker.wait(timeout=5)
    time.sleep(0.5)
    vd.activate(xterm)
    vd.xdotool("type", "--delay", "20", "after")
    recorder.stop()
    events = recorder.dump()

    chars = "".join(str(e["char"]) for e in kinds(events, "key_down") if e["char"])
    assert chars == "beforeafter"
    assert "lockpassword" not in json.dumps(events)
    excluded = [e for e in kinds(events, "marker") if e["marker"] == "excluded"]
    assert excluded and int(excluded[0]["duration_ms"]) > 0  # type: ignore[call-overload]
