"""Replay check: perform an exported episode's actions with XTEST on a fresh app instance and
measure how many steps end on the screen that was recorded next. It shows the data is faithful.

Only pixels the recording kept (designated windows) are compared, so a black, excluded area
never counts for or against a step.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from Xlib import XK, X, display
from Xlib.ext import xtest

MATCH_SHARE = 0.995  # a step matches when this share of kept pixels is identical
SETTLE_S = 0.6
_KEYSYMS = {"enter": "Return", "esc": "Escape", "backspace": "BackSpace", "tab": "Tab", "ctrl": "Control_L",
            "shift": "Shift_L", "alt": "Alt_L", "win": "Super_L", "altright": "ISO_Level3_Shift",
            "pageup": "Prior", "pagedown": "Next", "delete": "Delete", "home": "Home", "end": "End",
            "up": "Up", "down": "Down", "left": "Left", "right": "Right", "insert": "Insert",
            "space": "space"}
_BUTTONS = {"left": 1, "middle": 2, "right": 3}


class ReplayError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class StepResult:
    step: int
    action: str
    similarity: float

    @property
    def matched(self) -> bool:
        return self.similarity >= MATCH_SHARE


def load_episode(export_dir: Path, episode_id: str | None) -> list[dict[str, Any]]:
    path = export_dir / "steps.jsonl"
    if not path.exists():
        raise ReplayError(f"{export_dir} has no steps.jsonl; build it with --format jsonl")
    steps = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    wanted = episode_id or (steps[0]["episode_id"] if steps else None)
    episode = [s for s in steps if s["episode_id"] == wanted]
    if not episode:
        raise ReplayError(f"no episode {wanted!r} in {path}")
    return sorted(episode, key=lambda s: s["step"])


class Injector:
    """XTEST input from exported actions (coordinates as screen fractions)."""

    def __init__(self, *, disp: display.Display, width: int, height: int) -> None:
        self.disp, self.w, self.h = disp, width, height

    def _xy(self, a: dict[str, Any], x: str = "x", y: str = "y") -> tuple[int, int]:
        return round(a[x] * self.w), round(a[y] * self.h)

    def _fake(self, kind: int, detail: int = 0, **kw: int) -> None:
        xtest.fake_input(self.disp, kind, detail, **kw)
        self.disp.sync()

    def move(self, x: int, y: int) -> None:
        self._fake(X.MotionNotify, x=x, y=y)

    def button(self, number: int, times: int = 1) -> None:
        for _ in range(times):
            self._fake(X.ButtonPress, number)
            self._fake(X.ButtonRelease, number)
            time.sleep(0.05)

    def keysym(self, name: str) -> tuple[int, bool]:
        sym = XK.string_to_keysym(_KEYSYMS.get(name, name))
        if not sym and len(name) == 1:
            sym = ord(name)
        codes = list(self.disp.keysym_to_keycodes(sym))
        if not codes:
            raise ReplayError(f"this keyboard map has no key for {name!r}")
        keycode, index = codes[0]
        return keycode, bool(index & 1)

    def press(self, names: Sequence[str]) -> None:
        codes = [self.keysym(n) for n in names]
        shift = self.keysym("shift")[0]
        for code, shifted in codes:
            if shifted:
                self._fake(X.KeyPress, shift)
            self._fake(X.KeyPress, code)
        for code, shifted in reversed(codes):
            self._fake(X.KeyRelease, code)
            if shifted:
                self._fake(X.KeyRelease, shift)

    def perform(self, a: dict[str, Any]) -> None:
        kind = a["type"]
        if kind in ("click", "move", "scroll", "long_press", "drag"):
            self.move(*self._xy(a))
        if kind == "click":
            self.button(_BUTTONS.get(a.get("button", "left"), 1), int(a.get("count", 1)))
        elif kind == "drag":
            self._fake(X.ButtonPress, _BUTTONS.get(a.get("button", "left"), 1))
            self.move(*self._xy(a, "x2", "y2"))
            self._fake(X.ButtonRelease, _BUTTONS.get(a.get("button", "left"), 1))
        elif kind == "scroll":
            self.button(4 if a["dy"] > 0 else 5, abs(a["dy"]))
            self.button(7 if a["dx"] > 0 else 6, abs(a["dx"]))
        elif kind == "long_press":
            self._fake(X.ButtonPress, 1)
            time.sleep(a["ms"] / 1000)
            self._fake(X.ButtonRelease, 1)
        elif kind == "type":
            for char in a["text"]:
                self.press([char])
        elif kind == "key":
            self.press(a["keys"])


def similarity(recorded: np.ndarray, now: np.ndarray, window: Sequence[int] | None = None) -> float:
    """Share of kept (non-black in the recording) pixels that are identical now, inside the
    focused window when known: other apps on the recorded desktop are not the episode's state."""
    kept = recorded.any(axis=2)
    if window:
        x, y, w, h = window
        inside = np.zeros_like(kept)
        inside[max(y, 0):y + h, max(x, 0):x + w] = True
        kept &= inside
    if not kept.any():
        return 1.0
    return float((recorded[kept] == now[kept]).all(axis=1).mean())


def replay(*, export_dir: Path, steps: list[dict[str, Any]], disp: display.Display,
           grab: Callable[[], np.ndarray], progress: Callable[[StepResult], None] = lambda _: None
           ) -> list[StepResult]:
    """Perform each action, then compare the screen with the next step's recorded image."""
    screen = steps[0]["screen"]
    injector = Injector(disp=disp, width=screen["w"], height=screen["h"])
    results = []
    for step, nxt in itertools.pairwise(steps):
        if step["action"]["type"] == "terminate" or not nxt.get("image"):
            continue
        injector.perform(step["action"])
        time.sleep(SETTLE_S)
        recorded = np.asarray(Image.open(export_dir / nxt["image"]).convert("RGB"))
        result = StepResult(step["step"], step["action"]["type"],
                            similarity(recorded, grab(), nxt.get("window")))
        progress(result)
        results.append(result)
    return results


def run_replay(*, export_dir: Path, steps: list[dict[str, Any]], command: list[str],
               progress: Callable[[StepResult], None] = lambda _: None) -> list[StepResult]:
    """A fresh virtual desktop of the recorded size, the app started anew, then :func:`replay`."""
    import mss

    from deskscribe.vdisplay import VirtualDisplay

    screen = steps[0]["screen"]
    with VirtualDisplay(width=screen["w"], height=screen["h"]) as vd:
        vd.spawn(command)
        app = steps[0].get("app")
        vd.activate(vd.wait_window(cls=app) if app else vd.wait_window(name=""))
        time.sleep(SETTLE_S)
        disp = display.Display(vd.name)
        with mss.MSS(display=vd.name) as sct:
            def grab() -> np.ndarray:
                shot = sct.grab(sct.monitors[1])
                return np.asarray(Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX"))

            try:
                return replay(export_dir=export_dir, steps=steps, disp=disp, grab=grab, progress=progress)
            finally:
                disp.close()
