"""Replay input: what XTEST receives for an exported action (no X server needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from Xlib import XK, X

from deskscribe.dataset import replay
from deskscribe.dataset.replay import Injector, place

CODES = {XK.string_to_keysym("Shift_L"): 50, XK.string_to_keysym("Control_L"): 37,
         XK.string_to_keysym("Super_L"): 133, XK.string_to_keysym("t"): 28}
NAMES = {code: name for name, code in (("shift", 50), ("ctrl", 37), ("win", 133), ("t", 28))}


class FakeDisplay:
    def keysym_to_keycodes(self, sym: int) -> list[tuple[int, int]]:
        return [(CODES[sym], 0)] if sym in CODES else []

    def sync(self) -> None:
        pass


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The input XTEST would inject, as (kind, key name / button / position)."""
    out: list[tuple[str, Any]] = []

    def fake_input(_disp: object, kind: int, detail: int = 0, **kw: int) -> None:
        out.append({X.KeyPress: ("key down", NAMES.get(detail)), X.KeyRelease: ("key up", NAMES.get(detail)),
                    X.ButtonPress: ("button down", detail), X.ButtonRelease: ("button up", detail),
                    X.MotionNotify: ("move", (kw.get("x"), kw.get("y")))}[kind])
    monkeypatch.setattr("deskscribe.dataset.replay.xtest.fake_input", fake_input)
    monkeypatch.setattr("deskscribe.dataset.replay.time.sleep", lambda _s: None)
    return out


def perform(action: dict[str, Any]) -> None:
    Injector(disp=FakeDisplay(), width=1000, height=500).perform(action)


def test_a_shift_click_presses_shift_around_the_click(sent: list[tuple[str, Any]]) -> None:
    perform({"type": "click", "x": 0.1, "y": 0.2, "button": "left", "count": 1, "keys": ["ctrl", "shift"]})
    assert sent == [("move", (100, 100)), ("key down", "ctrl"), ("key down", "shift"), ("button down", 1),
                    ("button up", 1), ("key up", "shift"), ("key up", "ctrl")]


@pytest.mark.parametrize("keys", [[], None])
def test_a_click_without_modifiers_presses_no_key(sent: list[tuple[str, Any]], keys: list[str] | None) -> None:
    perform({"type": "click", "x": 0.1, "y": 0.2, "button": "right", "count": 2, "keys": keys})
    assert sent == [("move", (100, 100)), ("button down", 3), ("button up", 3), ("button down", 3),
                    ("button up", 3)]


def test_a_ctrl_drag_holds_ctrl_from_press_to_release(sent: list[tuple[str, Any]]) -> None:
    perform({"type": "drag", "x": 0.1, "y": 0.2, "x2": 0.5, "y2": 0.2, "button": "left", "keys": ["ctrl"]})
    assert sent == [("move", (100, 100)), ("key down", "ctrl"), ("button down", 1), ("move", (500, 100)),
                    ("button up", 1), ("key up", "ctrl")]


def test_a_long_press_uses_its_button(sent: list[tuple[str, Any]]) -> None:
    perform({"type": "long_press", "x": 0.1, "y": 0.2, "ms": 900, "button": "right", "keys": ["win"]})
    assert sent == [("move", (100, 100)), ("key down", "win"), ("button down", 3), ("button up", 3),
                    ("key up", "win")]


def test_a_chord_is_still_a_chord(sent: list[tuple[str, Any]]) -> None:
    perform({"type": "key", "keys": ["ctrl", "t"]})
    assert sent == [("key down", "ctrl"), ("key down", "t"), ("key up", "t"), ("key up", "ctrl")]


class Window:
    """A window manager that puts the client 1 px right and 20 px down of where it is moved."""

    def __init__(self) -> None:
        self.x, self.y, self.w, self.h = 398, 249, 484, 316

    def xdotool(self, cmd: str, _win: str, a: str, b: str) -> str:
        if cmd == "windowsize":
            self.w, self.h = int(a), int(b)
        else:
            self.x, self.y = int(a) + 1, int(b) + 20
        return ""


def test_place_puts_the_client_area_where_the_recording_had_it(monkeypatch: pytest.MonkeyPatch) -> None:
    win = Window()
    monkeypatch.setattr(replay, "_settled", lambda *_a, **_k: (win.x, win.y, win.w, win.h))
    assert place(win.xdotool, None, "7", [41, 60, 544, 394]) == (41, 60, 544, 394)


def test_similarity_counts_only_kept_pixels_inside_the_window() -> None:
    recorded = np.zeros((10, 10, 3), np.uint8)
    recorded[2:6, 2:6] = 200  # the designated window's pixels; the rest was blacked out
    now = np.full((10, 10, 3), 50, np.uint8)
    now[2:6, 2:6] = 200
    assert replay.similarity(recorded, now) == 1.0
    now[2, 2:6] = 0  # one of its four rows differs
    assert replay.similarity(recorded, now) == 0.75
    assert replay.similarity(recorded, now, [2, 3, 4, 3]) == 1.0  # that row is outside the window
