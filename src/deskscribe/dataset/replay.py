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

from deskscribe.errors import ReplayError

MATCH_SHARE = 0.995  # a step matches when this share of kept pixels is identical
SETTLE_S = 0.6
_KEYSYMS = {"enter": "Return", "esc": "Escape", "backspace": "BackSpace", "tab": "Tab", "ctrl": "Control_L",
            "shift": "Shift_L", "alt": "Alt_L", "win": "Super_L", "altright": "ISO_Level3_Shift",
            "pageup": "Prior", "pagedown": "Next", "delete": "Delete", "home": "Home", "end": "End",
            "up": "Up", "down": "Down", "left": "Left", "right": "Right", "insert": "Insert",
            "space": "space"}
_BUTTONS = {"left": 1, "middle": 2, "right": 3}


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
        if kind == "type":
            for char in a["text"]:
                self.press([char])
        elif kind == "key":
            self.press(a["keys"])
        elif kind in ("click", "move", "scroll", "long_press", "drag"):
            self.move(*self._xy(a))
            held = [self.keysym(k)[0] for k in a.get("keys") or []]
            for code in held:  # a shift-click is not a click: the modifiers go down first
                self._fake(X.KeyPress, code)
            try:
                self.pointer(a)
            finally:
                for code in reversed(held):
                    self._fake(X.KeyRelease, code)

    def pointer(self, a: dict[str, Any]) -> None:
        kind, button = a["type"], _BUTTONS.get(a.get("button", "left"), 1)
        if kind == "click":
            self.button(button, int(a.get("count", 1)))
        elif kind == "drag":
            self._fake(X.ButtonPress, button)
            self.move(*self._xy(a, "x2", "y2"))
            self._fake(X.ButtonRelease, button)
        elif kind == "scroll":
            self.button(4 if a["dy"] > 0 else 5, abs(a["dy"]))
            self.button(7 if a["dx"] > 0 else 6, abs(a["dx"]))
        elif kind == "long_press":
            self._fake(X.ButtonPress, button)
            time.sleep(a["ms"] / 1000)
            self._fake(X.ButtonRelease, button)


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
               progress: Callable[[StepResult], None] = lambda _: None,
               note: Callable[[str], None] = lambda _: None) -> list[StepResult]:
    """A fresh virtual desktop of the recorded size, the app started anew and put where the
    recorded window was, then :func:`replay`. ``note`` hears why a replay cannot match."""
    import mss

    from deskscribe.vdisplay import VirtualDisplay

    screen = steps[0]["screen"]
    with VirtualDisplay(width=screen["w"], height=screen["h"]) as vd:
        vd.spawn(command)
        app = steps[0].get("app")
        window = vd.wait_window(cls=app) if app else vd.wait_window(name="")
        vd.activate(window)
        disp = display.Display(vd.name)
        with mss.MSS(display=vd.name) as sct:
            def grab() -> np.ndarray:
                shot = sct.grab(sct.monitors[1])
                return np.asarray(Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX"))

            try:
                want = steps[0].get("window")
                if want:
                    got = place(vd.xdotool, disp, window, want)
                    if list(got) != list(want):
                        note(f"the launched window is {_geo(got)}, the recorded one {_geo(want)}")
                time.sleep(SETTLE_S)
                _check_start(export_dir, steps[0], grab(), note)
                return replay(export_dir=export_dir, steps=steps, disp=disp, grab=grab, progress=progress)
            finally:
                disp.close()


def place(xdotool: Callable[..., str], disp: display.Display, window: str, want: Sequence[int]
          ) -> tuple[int, int, int, int]:
    """Size and move the window so its client area is where the recording's was: frames are
    compared pixel for pixel, so an app placed elsewhere by the window manager matches nothing.
    Window managers offset a move by their decorations; the second move corrects by that."""
    x, y, w, h = want
    xdotool("windowsize", window, str(w), str(h))
    xdotool("windowmove", window, str(x), str(y))
    got = _settled(disp, window, want)
    if got[:2] != (x, y):
        xdotool("windowmove", window, str(2 * x - got[0]), str(2 * y - got[1]))
        got = _settled(disp, window, want)
    return got


def _settled(disp: display.Display, window: str, want: Sequence[int], timeout: float = 3.0
             ) -> tuple[int, int, int, int]:
    """The client geometry once it is the one wanted, or has held still for half a second (the
    window manager may not have handled the request at the first look)."""
    win = disp.create_resource_object("window", int(window))
    deadline, seen = time.monotonic() + timeout, []
    while True:
        geo = win.get_geometry()
        pos = disp.screen().root.translate_coords(win, 0, 0)
        seen.append((pos.x, pos.y, geo.width, geo.height))
        if list(seen[-1]) == list(want) or seen[-5:].count(seen[-1]) == 5 or time.monotonic() > deadline:
            return seen[-1]
        time.sleep(0.1)


def _geo(g: Sequence[int]) -> str:
    return f"{g[2]}x{g[3]} at ({g[0]}, {g[1]})"


def _check_start(export_dir: Path, first: dict[str, Any], screen: np.ndarray,
                 note: Callable[[str], None]) -> None:
    """Every later step starts from the one before: a first screen that differs already
    explains a low score, so say so before replaying."""
    if not first.get("image"):
        return
    recorded = np.asarray(Image.open(export_dir / first["image"]).convert("RGB"))
    share = similarity(recorded, screen, first.get("window"))
    if share < MATCH_SHARE:
        note(f"the launched app's first screen matches the recorded one in {share:.1%} of pixels"
             f" (a step needs {MATCH_SHARE:.1%}): the launch command must start the app as it"
             " was recorded (same app, window size and position, font and content)")
