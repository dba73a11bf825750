"""Invariant 1: before the current notice is acknowledged, or after withdrawal, nothing is captured."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from deskscribe.vdisplay import VirtualDisplay

from .conftest import RecorderProcess, deskscribe

pytestmark = pytest.mark.slow


def test_nothing_is_recorded_before_acknowledgement(vd: VirtualDisplay, tmp_path: Path, policy_file: Path) -> None:
    data = tmp_path / "data"
    out = deskscribe("record", "--policy", str(policy_file), "--data-dir", str(data), "--display", vd.name,
                     "--duration", "1", check=False)
    assert out.returncode == 2 and "not acknowledged" in out.stderr and "consent accept" in out.stderr
    assert not (data / "sessions").exists() or not list((data / "sessions").iterdir())
    deskscribe("consent", "accept", "--yes", "--policy", str(policy_file), "--data-dir", str(data))
    wider = tmp_path / "wider.toml"
    wider.write_text(policy_file.read_text().replace('["XTerm"]', '["XTerm", "Zenity"]'))
    again = deskscribe("record", "--policy", str(wider), "--data-dir", str(data), "--display", vd.name,
                       "--duration", "1", check=False)
    assert again.returncode == 2 and "not acknowledged" in again.stderr  # widening needs a new ack
    shown = deskscribe("consent", "show", "--policy", str(wider), "--data-dir", str(data)).stdout
    assert "Zenity" in shown and "not acknowledged" in shown


def test_accept_refuses_to_guess_without_a_terminal(tmp_path: Path, policy_file: Path) -> None:
    out = deskscribe("consent", "accept", "--policy", str(policy_file), "--data-dir", str(tmp_path), check=False)
    assert out.returncode == 2 and "--yes" in out.stderr
    assert not (tmp_path / "consent.jsonl").exists()


def test_withdrawal_stops_capture_at_once(vd: VirtualDisplay, recorder: RecorderProcess) -> None:
    proc = vd.spawn(["xterm", "-T", "Withdraw", "-geometry", "40x8+600+600", "-e", "cat"])
    try:
        vd.activate(vd.wait_window(name="Withdraw"))
        recorder.start()
        vd.xdotool("type", "--delay", "20", "before")
        time.sleep(0.3)
        out = deskscribe("consent", "withdraw", "--data-dir", str(recorder.data_dir))
        assert "running recorder stopped" in out.stdout
        vd.xdotool("type", "--delay", "20", "after")
        assert recorder.proc is not None
        recorder.proc.wait(timeout=10)  # it ended by itself
    finally:
        proc.terminate()
    events = recorder.dump()
    typed = "".join(str(e["char"]) for e in events if e["kind"] == "key_down")
    assert typed == "before"
    assert [e["marker"] for e in events if e["kind"] == "marker"][-2:] == ["withdraw", "stop"]
    again = deskscribe("record", "--policy", str(recorder.policy), "--data-dir", str(recorder.data_dir),
                       "--display", vd.name, "--duration", "1", check=False)
    assert again.returncode == 2 and "not acknowledged" in again.stderr


def test_nothing_is_captured_while_paused(vd: VirtualDisplay, recorder: RecorderProcess) -> None:
    proc = vd.spawn(["xterm", "-T", "Pausing", "-geometry", "40x8+600+600", "-e", "cat"])
    data = str(recorder.data_dir)
    try:
        vd.activate(vd.wait_window(name="Pausing"))
        recorder.start()
        vd.xdotool("type", "--delay", "20", "one")
        deskscribe("pause", "--data-dir", data)
        vd.xdotool("type", "--delay", "20", "secret")
        vd.xdotool("mousemove", "--sync", "650", "650")
        vd.xdotool("click", "1")
        deskscribe("resume", "--data-dir", data)
        vd.xdotool("type", "--delay", "20", "two")
        deskscribe("pause", "--for", "0.02", "--data-dir", data)  # 1.2 s, then by itself
        vd.xdotool("type", "--delay", "20", "hidden")
        time.sleep(2.0)
        vd.xdotool("type", "--delay", "20", "three")
        recorder.stop()
    finally:
        proc.terminate()
    events = recorder.dump()
    typed = "".join(str(e["char"]) for e in events if e["kind"] == "key_down")
    assert typed == "onetwothree"
    assert not [e for e in events if e["kind"] in ("mouse_down", "mouse_up")]
    markers = [e["marker"] for e in events if e["kind"] == "marker"]
    assert markers.count("pause") == 2 and markers.count("resume") == 2
    bad = deskscribe("pause", "--for", "-1", "--data-dir", data, check=False)
    assert bad.returncode == 2 and "positive number of minutes" in bad.stderr


def test_the_global_hotkey_toggles_pause(vd: VirtualDisplay, recorder: RecorderProcess) -> None:
    proc = vd.spawn(["xterm", "-T", "Hotkey", "-geometry", "40x8+600+600", "-e", "cat"])
    try:
        vd.activate(vd.wait_window(name="Hotkey"))
        recorder.start()
        vd.xdotool("type", "--delay", "20", "one")
        vd.xdotool("key", "ctrl+alt+shift+p")
        vd.xdotool("type", "--delay", "20", "secret")
        vd.xdotool("key", "ctrl+alt+shift+p")
        vd.xdotool("type", "--delay", "20", "two")
        summary = recorder.stop()
    finally:
        proc.terminate()
    events = recorder.dump()
    typed = "".join(str(e["char"]) for e in events if e["kind"] == "key_down" and e["char"])
    assert typed == "onetwo"
    # keys typed while paused are counted as such, not as input outside designated apps
    counts = re.search(r"(\d+) inputs outside designated apps and (\d+) while paused", summary)
    assert counts is not None, summary
    assert int(counts[1]) == 0 and int(counts[2]) >= 12, summary
    markers = [e["marker"] for e in events if e["kind"] == "marker"]
    assert markers.count("pause") == 1 and markers.count("resume") == 1


def test_a_tray_icon_shows_the_state_where_the_desktop_has_a_tray(
        vd: VirtualDisplay, recorder: RecorderProcess) -> None:
    tray = vd.spawn(["trayer", "--edge", "bottom", "--align", "right", "--widthtype", "pixel",
                     "--width", "120", "--height", "24"])
    proc = vd.spawn(["xterm", "-T", "Traying", "-geometry", "40x8+600+600", "-e", "cat"])
    try:
        vd.activate(vd.wait_window(name="Traying"))
        time.sleep(0.5)  # the tray takes its selection
        recorder.start()
        names = _tray_names(vd, "recording XTerm")
        deskscribe("pause", "--data-dir", str(recorder.data_dir))
        names += _tray_names(vd, "paused")
        recorder.stop()
    finally:
        proc.terminate()
        tray.terminate()
    assert names == ["deskscribe: recording XTerm", "deskscribe: paused (deskscribe resume)"]


def _tray_names(vd: VirtualDisplay, wanted: str, timeout: float = 20.0) -> list[str]:
    """The tray icon window's name once it reads ``wanted`` (it is updated every 0.5 s)."""
    deadline = time.monotonic() + timeout
    name = ""
    while time.monotonic() < deadline:
        for wid in vd.xdotool("search", "--name", "^deskscribe: ").split():
            name = vd.xdotool("getwindowname", wid).strip()
            if wanted in name:
                return [name]
        time.sleep(0.2)
    raise AssertionError(f"no tray icon reading {wanted!r} (last: {name!r})")
