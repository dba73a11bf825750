"""Baseline for bench/capture.py: how research recorders capture.

pynput listener callbacks write one JSON line per event and save a full-screen PNG (mss) for
every action (click, scroll, key press), all from the callbacks, with no policy gate.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

import mss
import mss.tools
from pynput import keyboard, mouse


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    log = (out_dir / "events.jsonl").open("w")
    sct = mss.MSS()
    lock = threading.Lock()
    shots = [0]

    def write(kind: str, **data: object) -> None:
        with lock:
            log.write(json.dumps({"t": time.time(), "kind": kind, **data}) + "\n")
            log.flush()

    def screenshot() -> None:
        with lock:
            shots[0] += 1
            img = sct.grab(sct.monitors[0])
            mss.tools.to_png(img.rgb, img.size, output=str(out_dir / f"shot-{shots[0]:06d}.png"))

    def on_move(x: int, y: int, injected: bool = False) -> None:
        write("mouse_move", x=x, y=y)

    def on_click(x: int, y: int, button: mouse.Button, pressed: bool, injected: bool = False) -> None:
        if pressed:
            screenshot()
        write("mouse_down" if pressed else "mouse_up", x=x, y=y, button=button.name)

    def on_scroll(x: int, y: int, dx: int, dy: int, injected: bool = False) -> None:
        screenshot()
        write("scroll", x=x, y=y, dx=dx, dy=dy)

    def on_press(key: object, injected: bool = False) -> None:
        screenshot()
        write("key_down", key=str(key))

    def on_release(key: object, injected: bool = False) -> None:
        write("key_up", key=str(key))

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with mouse.Listener(on_move=on_move, on_click=on_click, on_scroll=on_scroll) as ml, \
            keyboard.Listener(on_press=on_press, on_release=on_release) as kl:
        ml.wait()
        kl.wait()
        print("ready", file=sys.stderr, flush=True)
        stop.wait()
    log.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
