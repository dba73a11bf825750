"""The running recorder's outer loop (status line, storage budget, free disk) and the requests
its control socket answers; the `record` command drives it."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from deskscribe.browser.source import PROTOCOL, BrowserSource
from deskscribe.datadir import DataDir
from deskscribe.heap import return_freed
from deskscribe.indicator import IDLE, PAUSED, RECORDING
from deskscribe.pipeline.recorder import Recorder
from deskscribe.store import SessionWriter


def _say(message: str, err: bool = False) -> None:
    print(message, file=sys.stderr if err else sys.stdout, flush=True)


def control_handler(get_recorder: Callable[[], Recorder], session_id: str, *,
                    browser: BrowserSource | None = None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Requests `deskscribe task ...` sends to the running recorder."""
    open_task: list[str] = []

    def handle(req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        recorder = get_recorder()
        if cmd == "task_start":
            instruction = str(req.get("instruction", "")).strip()
            if not instruction:
                return {"ok": False, "error": "a task needs an instruction"}
            if open_task:
                recorder.add_marker("task_end", status="unknown")
            open_task[:] = [instruction]
            recorder.add_marker("task_start", instruction=instruction)
            return {"ok": True, "session": session_id}
        if cmd == "task_end":
            status = req.get("status")
            if status not in ("success", "fail"):
                return {"ok": False, "error": "status must be success or fail"}
            if not open_task:
                return {"ok": False, "error": "no task is open; start one with `deskscribe task start`"}
            open_task.clear()
            recorder.add_marker("task_end", status=status)
            return {"ok": True, "session": session_id}
        if cmd == "pause":
            minutes = req.get("minutes")
            if minutes is not None and (not isinstance(minutes, int | float) or minutes <= 0):
                return {"ok": False, "error": "minutes must be a positive number"}
            recorder.pause(None if minutes is None else float(minutes) * 60)
            return {"ok": True, "session": session_id}
        if cmd == "resume":
            recorder.resume()
            return {"ok": True, "session": session_id}
        if cmd == "withdraw":
            recorder.withdraw()
            return {"ok": True, "session": session_id}
        if cmd == "status":
            stats = recorder.stats
            reply = {"ok": True, "session": session_id, "app": stats.recording_app,
                     "kept": stats.kept_visible, "ocr_pixels": stats.ocr_pixels,
                     "described": stats.frames_described}
            if browser is not None:
                reply["browser"] = {"connected": browser.connected, "protocol": PROTOCOL,
                                    "dropped": browser.dropped}
            return reply
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    return handle



class Indicator(Protocol):
    def show(self, state: str, text: str) -> None: ...


def status(recorder: Recorder) -> tuple[str, str]:
    """(state, words) shown on the status line and the tray icon."""
    s = recorder.stats
    if s.paused:
        return PAUSED, "paused (deskscribe resume)"
    if s.recording_app:
        return RECORDING, f"recording {s.recording_app}"
    return IDLE, "not recording: no designated app in front"


def run_until_stopped(recorder: Recorder, writer: SessionWriter, dd: DataDir, stop: threading.Event, *,
                      duration: float | None, session_id: str, budget_bytes: int,
                      min_free_bytes: int, indicator: Indicator | None = None) -> float:
    """Live status line, storage budget and free-disk checks until a signal, the duration or a
    capture failure ends the recording; returns the seconds recorded."""
    started = time.monotonic()
    tty = sys.stderr.isatty()
    next_check = 0.0
    warned_low = False
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= next_check:  # checked before any exit, so a low disk is always said
            next_check = elapsed + 5
            low = dd.free_bytes() < min_free_bytes
            if low != warned_low:
                _say("warning: disk space is low; screenshots paused, events continue" if low
                           else "disk space recovered; screenshots resumed", err=True)
                warned_low = low
            recorder.set_frames_paused(low)
            dd.enforce_budget(budget_bytes, keep=session_id)
            return_freed()  # a working day of screen-sized arrays must not ratchet the heap up
        if (duration is not None and elapsed >= duration) or recorder.failure or recorder.withdrawn:
            break
        state, text = status(recorder)
        if indicator is not None:
            indicator.show(state, text)
        if tty:
            sys.stderr.write(f"\r\033[K● {text} | {writer.events_written} events | "
                             f"{writer.frames_written} frames | {elapsed:.0f}s")
            sys.stderr.flush()
        if stop.wait(0.5) or recorder.withdrawn:
            break
    if tty:
        sys.stderr.write("\n")
    return time.monotonic() - started
