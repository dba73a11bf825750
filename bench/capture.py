"""Capture cost of deskscribe's recorder vs a naive research-style recorder, in one run.

Each recorder runs as its own process on a fresh virtual display with a designated xterm:
  1. idle: 20 s with nothing happening          -> CPU % of one core
  2. flood: XTEST pointer motion at 3000 ev/s   -> CPU µs per event, events dropped
     key flood: XTEST typing at 200 keys/s, Enter every 40 keys -> CPU µs per key event (each
     press asks the terminal's pty whether it reads a secret, and every line is scanned)
  3. office minute: moves, clicks, typing, scrolls (same script for both) -> CPU %, bytes/hour
CPU is read from /proc/PID/task/*/schedstat (ns, all threads).

    .venv/bin/python bench/capture.py [--office-seconds 60] [--flood-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from Xlib import XK, X, display
from Xlib.ext import xtest

from deskscribe.vdisplay import VirtualDisplay

FLOOD_RATE = 3000
KEY_RATE = 200
FLOOD_Y = 500
SENTENCES = ["Quarterly report draft: revenue up 4% in Q3.", "Send the invoice to accounts today.",
             "Meeting moved to Thursday 10:30, room B.", "ls -la /srv/reports | grep 2026",
             "Fix typo in section 2; update the chart legend."]
POLICY = 'version = "bench"\ndesignated_apps = ["XTerm"]\nscreenshot_interval_s = 10\n'


def cpu_ns(pid: int) -> int:
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread ended while we read
    return total


def idle_and_floods(vd: VirtualDisplay, pid: int, out: dict[str, float], *, idle_s: float,
                    flood_s: float) -> int:
    """Idle CPU %, then CPU per pointer event and per key event, into ``out``; pointer events sent."""
    c0 = cpu_ns(pid)
    time.sleep(idle_s)
    out["idle_cpu_pct"] = (cpu_ns(pid) - c0) / 1e9 / idle_s * 100
    c0 = cpu_ns(pid)
    sent = flood(vd, flood_s)
    time.sleep(2.0)  # let the recorder drain what it queued
    out["flood_us_per_event"] = (cpu_ns(pid) - c0) / 1e3 / sent
    c0 = cpu_ns(pid)
    keys = key_flood(vd, flood_s)
    time.sleep(2.0)
    out["key_us_per_event"] = (cpu_ns(pid) - c0) / 1e3 / keys
    return sent


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass
class Recorder:
    label: str
    start: Callable[[VirtualDisplay, Path], subprocess.Popen[str]]
    stored_bytes: Callable[[Path], int]
    flood_moves: Callable[[Path], int]


def _start_ours(vd: VirtualDisplay, work: Path) -> subprocess.Popen[str]:
    (work / "policy.toml").write_text(POLICY)
    subprocess.run([sys.executable, "-m", "deskscribe", "consent", "accept", "--yes", "--policy",
                    str(work / "policy.toml"), "--data-dir", str(work / "data")],
                   check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "deskscribe", "record", "--policy",
                             str(work / "policy.toml"), "--data-dir", str(work / "data"),
                             "--display", vd.name], env=vd.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("recording"), line
    return proc


def _ours_bytes(work: Path) -> int:
    return dir_bytes(work / "data" / "sessions")


def _ours_flood_moves(work: Path) -> int:
    sid = next((work / "data" / "sessions").glob("*.db")).stem
    out = subprocess.run([sys.executable, "-m", "deskscribe", "sessions", "dump", sid, "--data-dir",
                          str(work / "data")], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if '"mouse_move"' in line and json.loads(line)["y"] == FLOOD_Y)


def _start_naive(vd: VirtualDisplay, work: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("naive_recorder.py")),
                             str(work / "naive")], env=vd.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("ready")
    return proc


def _naive_flood_moves(work: Path) -> int:
    count = 0
    with (work / "naive" / "events.jsonl").open() as fh:
        for line in fh:
            if '"mouse_move"' in line and json.loads(line)["y"] == FLOOD_Y:
                count += 1
    return count


RECORDERS = [
    Recorder("deskscribe", _start_ours, _ours_bytes, _ours_flood_moves),
    Recorder("naive (pynput+JSONL+PNG)", _start_naive, lambda w: dir_bytes(w / "naive"), _naive_flood_moves),
]


def flood(vd: VirtualDisplay, seconds: float) -> int:
    """Pointer motion at FLOOD_RATE events/s via XTEST; returns how many were injected."""
    disp = display.Display(vd.name)
    sent, start = 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * FLOOD_RATE)
        while sent < due:
            xtest.fake_input(disp, X.MotionNotify, x=100 + sent % 500, y=FLOOD_Y)
            sent += 1
        disp.flush()
        time.sleep(0.001)
    disp.sync()
    disp.close()
    return sent


def key_flood(vd: VirtualDisplay, seconds: float) -> int:
    """Lines of 40 letters and Enter at KEY_RATE keys/s; returns the key events injected."""
    disp = display.Display(vd.name)
    line = "the quick brown fox jumps over the dog\n"
    codes = [disp.keysym_to_keycode(XK.XK_Return if c == "\n" else ord(c)) for c in line]
    sent, start = 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        while sent < int(elapsed * KEY_RATE):
            code = codes[sent % len(codes)]
            xtest.fake_input(disp, X.KeyPress, code)
            xtest.fake_input(disp, X.KeyRelease, code)
            sent += 1
        disp.flush()
        time.sleep(0.002)
    disp.sync()
    disp.close()
    return 2 * sent


def type_like_a_keyboard(disp: display.Display, text: str, delay: float) -> None:
    """XTEST key presses on the existing keymap (xdotool type remaps a scratch keycode per
    character, which no real keyboard does and which makes every X client re-read its keymap)."""
    shift = disp.keysym_to_keycode(XK.XK_Shift_L)
    for char in text:
        keysym = XK.XK_Return if char == "\n" else ord(char)
        keycode, index = next(iter(disp.keysym_to_keycodes(keysym)))
        if index & 1:
            xtest.fake_input(disp, X.KeyPress, shift)
        xtest.fake_input(disp, X.KeyPress, keycode)
        xtest.fake_input(disp, X.KeyRelease, keycode)
        if index & 1:
            xtest.fake_input(disp, X.KeyRelease, shift)
        disp.flush()
        time.sleep(delay)


def office(vd: VirtualDisplay, seconds: float) -> None:
    """A person at work: glide, click, type a sentence, Enter, scroll; deterministic."""
    rng = random.Random(7)
    disp = display.Display(vd.name)
    x, y = 300, 300
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        tx, ty = rng.randint(80, 600), rng.randint(100, 560)
        for i in range(1, 16):
            xtest.fake_input(disp, X.MotionNotify, x=x + (tx - x) * i // 15, y=y + (ty - y) * i // 15)
            disp.flush()
            time.sleep(0.03)
        x, y = tx, ty
        time.sleep(0.3)
        vd.xdotool("click", "1")
        time.sleep(0.5)
        type_like_a_keyboard(disp, rng.choice(SENTENCES) + "\n", 0.12)
        time.sleep(0.8)
        vd.xdotool("click", "--delay", "150", "--repeat", "3", "5")
        time.sleep(1.0)
    disp.close()


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)


def measure(rec: Recorder, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    for phase in ("idle+flood", "office"):
        with tempfile.TemporaryDirectory() as tmp, VirtualDisplay() as vd:
            work = Path(tmp)
            vd.spawn(["xterm", "-geometry", "100x40+40+40", "-e", "cat"])
            vd.activate(vd.wait_window(cls="XTerm"))
            proc = rec.start(vd, work)
            time.sleep(1.0)
            if phase == "idle+flood":
                sent = idle_and_floods(vd, proc.pid, out, idle_s=args.idle_seconds,
                                       flood_s=args.flood_seconds)
                stop(proc)
                out["flood_injected"] = sent
                out["flood_dropped"] = sent - rec.flood_moves(work)
            else:
                c0 = cpu_ns(proc.pid)
                office(vd, args.office_seconds)
                out["office_cpu_pct"] = (cpu_ns(proc.pid) - c0) / 1e9 / args.office_seconds * 100
                stop(proc)
                out["bytes_per_hour"] = rec.stored_bytes(work) * 3600 / args.office_seconds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle-seconds", type=float, default=20)
    parser.add_argument("--flood-seconds", type=float, default=5)
    parser.add_argument("--office-seconds", type=float, default=60)
    args = parser.parse_args()
    results = {}
    for rec in RECORDERS:
        print(f"measuring {rec.label} ...", file=sys.stderr, flush=True)
        results[rec.label] = measure(rec, args)
    ours, base = (results[r.label] for r in RECORDERS)
    rows = [("CPU µs per input event (3000 ev/s flood)", "flood_us_per_event", "{:.1f}"),
            ("CPU µs per key event (200 keys/s, Enter every 40)", "key_us_per_event", "{:.1f}"),
            ("events injected in flood", "flood_injected", "{:.0f}"),
            ("events dropped in flood", "flood_dropped", "{:.0f}"),
            ("CPU % of one core, idle designated window", "idle_cpu_pct", "{:.2f}"),
            ("CPU % of one core, office-work minute", "office_cpu_pct", "{:.2f}"),
            ("bytes stored per hour of office work", "bytes_per_hour", "{:,.0f}")]
    print("| metric | deskscribe | naive baseline | baseline / deskscribe |\n|---|---:|---:|---:|")
    for label, key, fmt in rows:
        ratio = f"{base[key] / ours[key]:.1f}×" if ours[key] and base[key] else "—"
        print(f"| {label} | {fmt.format(ours[key])} | {fmt.format(base[key])} | {ratio} |")


if __name__ == "__main__":
    main()
