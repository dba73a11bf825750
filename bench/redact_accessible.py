"""Screenshot redaction of a real editor from its own text, against full-window OCR, in one run.

mousepad (GTK, nobody here wrote it) shows an office document with PII on a virtual display.
Each step a person types a sentence, clicks elsewhere in the text or scrolls, and a frame of
the window is redacted two ways, on one core:
  1. deskscribe: AccessibleText reads the text view once it is still (D-Bus calls and scanning
     on its own thread), the frame is redacted from that reading, and OCR reads only what the
     view does not cover (menus, tool bar, status bar) where it changed;
  2. the baseline: Tesseract over the whole window for every frame, then the same scanners.
deskscribe's cost counts this process's CPU for all of it (the source's thread included) and,
separately, mousepad's CPU for answering the reads, which the baseline does not need.

    .venv/bin/python bench/redact_accessible.py [--steps 100]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one core, as the figures claim

import mss
import numpy as np

from deskscribe.browser.page import ScanCache
from deskscribe.capture.atspi import open_accessibility_bus
from deskscribe.capture.atspi_targets import ROOT_PATH, Bus, Node
from deskscribe.capture.atspi_text import AccessibleText, focused_in, read_text
from deskscribe.capture.base import Rect, WindowInfo
from deskscribe.context import VisibleText
from deskscribe.pipeline.page_boxes import apply_texts
from deskscribe.redact.frames import FrameRedactor
from deskscribe.redact.ocr import TesseractOcr
from deskscribe.redact.text import TextScanner
from deskscribe.vdisplay import VirtualDisplay
from redact import SENSITIVE, WIN, WORDS

SIZE = (WIN.width, WIN.height)


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randrange(4, 10))]
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words)), rng.choice(SENSITIVE))
    return " ".join(words)


def cpu_s(pid: int) -> float:
    """All threads' CPU of a process, from /proc (ns resolution)."""
    return sum(int(p.read_text().split()[0]) for p in Path(f"/proc/{pid}/task").glob("*/schedstat")) / 1e9


def window_of(vd: VirtualDisplay) -> WindowInfo:
    """The editor at the size of ``bench/redact.py``'s document window."""
    win = vd.wait_window(cls="Mousepad")
    vd.xdotool("windowsize", "--sync", win, str(SIZE[0]), str(SIZE[1]))
    vd.activate(win)
    time.sleep(0.5)
    shell = dict(line.split("=") for line in vd.xdotool("getwindowgeometry", "--shell", win).split())
    pid = int(vd.xdotool("getwindowpid", win))
    return WindowInfo(app="Mousepad", title="report", pid=pid, window=int(win),
                      geometry=(int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"])))


def act(vd: VirtualDisplay, rng: random.Random, view: Rect) -> str:
    r = rng.random()
    if r < 0.6:
        vd.xdotool("type", "--delay", "20", " " + sentence(rng))
        return "type"
    if r < 0.85:
        vd.xdotool("mousemove", str(view.x + rng.randrange(20, view.width - 20)),
                   str(view.y + rng.randrange(10, view.height - 10)), "click", "1")
        return "click"
    vd.xdotool("mousemove", str(view.x + 50), str(view.y + 50), "click", "--repeat", "3", "5")
    return "scroll"


def focused_text(bus: Bus, pid: int) -> Node:
    deadline = time.monotonic() + 5
    for name, _ in bus.acc(("org.a11y.atspi.Registry", ROOT_PATH), "GetChildren", deadline):
        if bus.pid_of(str(name), deadline) == pid and (node := focused_in(bus, str(name), deadline)):
            return node
    raise SystemExit("mousepad has no focused accessible")


def described(source: AccessibleText, window: WindowInfo, timeout: float = 5.0) -> VisibleText:
    deadline = time.monotonic() + timeout
    while (text := source.visible_text(window, time.monotonic_ns())) is None:
        if time.monotonic() > deadline:
            raise SystemExit("mousepad's text view was never described: is AT-SPI running?")
        time.sleep(0.02)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    rng = random.Random(7)
    scanner = TextScanner(deny_list=["Jane Roe"])
    with tempfile.TemporaryDirectory() as tmp, VirtualDisplay() as vd, mss.mss(display=vd.name) as grab:
        doc = Path(tmp) / "report.txt"
        doc.write_text("\n".join(sentence(rng) for _ in range(60)) + "\n")
        app = vd.spawn(["mousepad", str(doc)])
        window = window_of(vd)
        assert vd.session_bus is not None
        source = AccessibleText(session_bus=vd.session_bus, scanner=ScanCache(scanner=scanner))
        source.start()
        win = Rect(*window.geometry)
        source.visible_text(window, time.monotonic_ns())  # the source learns the app
        view = described(source, window).region
        bus = Bus(open_accessibility_bus(vd.session_bus))
        node = focused_text(bus, app.pid)
        ocr_ours, ocr_full = TesseractOcr(), TesseractOcr()
        ours = FrameRedactor(ocr=ocr_ours, scanner=scanner)
        me = os.getpid()
        t_ours = t_app = t_full = 0.0
        kinds: list[str] = []
        for step in range(args.steps + 1):
            kinds.append("first" if step == 0 else act(vd, rng, view))
            c0 = cpu_s(me)  # from the action on: the source's reads run on its thread in here
            time.sleep(0.2)  # the app repaints and the source reads
            text = described(source, window)
            t_ours += cpu_s(me) - c0
            shot = np.asarray(grab.grab({"left": 0, "top": 0, "width": vd.width, "height": vd.height}))
            pixels = np.ascontiguousarray(shot)  # capture's cost, the same for both: not counted
            c1 = cpu_s(me)
            boxed, read = apply_texts(pixels, [win], [text])
            ours.redact(boxed, list(read))
            t_ours += cpu_s(me) - c1
            a1 = cpu_s(app.pid)
            read_text(bus, node, ScanCache(scanner=scanner), time.monotonic() + 1)  # answering, for the app
            t_app += cpu_s(app.pid) - a1
            f0 = cpu_s(me)
            words = ocr_full.words(pixels, win)
            scanner.scan(" ".join(w.text for w in words))
            t_full += cpu_s(me) - f0
        source.stop()
    n = len(kinds)
    mix = {k: kinds.count(k) for k in ("type", "click", "scroll")}
    print(f"{n} frames of a {win.width}x{win.height} mousepad window, view {view.width}x{view.height}: {mix}")
    print("| redaction, one core | deskscribe (accessibility text) | full-window OCR | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| CPU ms per frame, recorder | {t_ours / n * 1e3:.1f} | {t_full / n * 1e3:.1f} |"
          f" {t_full / t_ours:.1f}× |")
    print(f"| CPU ms per frame, recorder + app answering | {(t_ours + t_app) / n * 1e3:.1f} |"
          f" {t_full / n * 1e3:.1f} | {t_full / (t_ours + t_app):.1f}× |")
    print(f"| frames/s per core | {n / t_ours:.1f} | {n / t_full:.2f} | |")
    print(f"(OCR read {ours.stats.ocr_pixels / n:,.0f} px per frame for deskscribe,"
          f" {win.width * win.height:,} for the baseline; {source.readings} readings)")


if __name__ == "__main__":
    main()
