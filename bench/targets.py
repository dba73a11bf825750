"""What looking up the element under each click costs: on the pipeline thread (queueing the
press) and until the target is ready (the lookup on the source's own thread), in one run.

A yad form (GTK 3) on a fresh virtual display; presses at points spread over its widgets are
handed to ``AccessibleTargets.action`` exactly as the pipeline hands them, and the time until
``take_targets`` returns the target is measured. The baseline is the same press handed to a
source that looks nothing up (``NoContext``): the pipeline's cost without targets.

    .venv/bin/python bench/targets.py [--presses 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is not a package

from deskscribe.capture.atspi_targets import AccessibleTargets
from deskscribe.capture.base import WindowInfo
from deskscribe.context import NoContext
from deskscribe.vdisplay import VirtualDisplay

FORM = ["yad", "--form", "--title", "Settings", "--field=Remember me:CHK", "--field=Size:CB",
        "--field=Name", "--field=City", "FALSE", "small!medium!large", "", ""]


def points(box: tuple[int, int, int, int], n: int) -> list[tuple[int, int]]:
    x, y, w, h = box
    return [(x + 4 + (i * 37) % (w - 8), y + 4 + (i * 23) % (h - 8)) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=200)
    args = ap.parse_args()
    vd = VirtualDisplay(width=800, height=600).start()
    try:
        assert vd.session_bus is not None, "no D-Bus session on the virtual display (install dbus)"
        form = subprocess.Popen(FORM, env=vd.app_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        win = vd.wait_window(name="^Settings$")
        vd.activate(win)
        time.sleep(1.5)
        x, y, w, h = _geometry(vd, win)
        window = WindowInfo(app="Yad", title="Settings", pid=form.pid, geometry=(x, y, w, h))
        source = AccessibleTargets(session_bus=vd.session_bus)
        source.start()
        source.take_targets(window)  # the app is found before the first press, as after focus
        time.sleep(0.5)
        queued, ready, missed = [], [], 0
        for x, y in points(window.geometry, args.presses):
            t0 = time.perf_counter_ns()
            source.action(window, "pointerdown", x, y, time.monotonic_ns())
            queued.append((time.perf_counter_ns() - t0) / 1e3)
            deadline = time.perf_counter() + 1.0
            while not (found := source.take_targets(window)) and time.perf_counter() < deadline:
                time.sleep(0.0002)
            if found:
                ready.append((time.perf_counter_ns() - t0) / 1e6)
            else:
                missed += 1
        base = NoContext()
        baseline = []
        for x, y in points(window.geometry, args.presses):
            t0 = time.perf_counter_ns()
            base.action(window, "pointerdown", x, y, time.monotonic_ns())
            baseline.append((time.perf_counter_ns() - t0) / 1e3)
        source.stop()
        form.terminate()
    finally:
        vd.stop()
    q, b = statistics.median(queued), statistics.median(baseline)
    print(f"presses: {args.presses}, targets found: {len(ready)}, missed: {missed}")
    print(f"pipeline thread per press: median {q:.1f} µs (no lookup: {b:.1f} µs; +{q - b:.1f} µs)")
    if ready:
        p90 = statistics.quantiles(ready, n=10)[-1] if len(ready) >= 10 else max(ready)
        print(f"press to target ready (own thread): median {statistics.median(ready):.2f} ms,"
              f" p90 {p90:.2f} ms")


def _geometry(vd: VirtualDisplay, win: str) -> list[int]:
    shell = dict(line.split("=", 1) for line in vd.xdotool("getwindowgeometry", "--shell", win).splitlines())
    return [int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"])]


if __name__ == "__main__":
    main()
