"""Screenshot and text redaction throughput, against full-frame OCR of the same frames.

A scripted office sequence is rendered with a real font into a 1280x800 screen whose only
designated window is a text document: typing bursts appended to lines, cursor moves from
clicks, scrolls by three lines and the occasional new page. In one run, on one core:
  1. deskscribe's redactor (OCR only where the screen changed, boxes kept elsewhere);
  2. the baseline: OCR of the whole window for every frame, then the same scanners;
  3. text scanning of typing bursts (PII patterns + secret rules + deny-list).

    .venv/bin/python bench/redact.py [--frames 300] [--baseline-every 15]
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one core, as the figures claim

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from deskscribe.capture.base import Rect
from deskscribe.redact.frames import FrameRedactor
from deskscribe.redact.ocr import TesseractOcr
from deskscribe.redact.text import TextScanner

W, H = 1280, 800
WIN = Rect(40, 40, 900, 620)
LINE_H = 17
FONT = ImageFont.truetype("DejaVuSansMono.ttf", 13)
TEXT = """the quarterly figures for the northern region were reviewed by the finance team
and approved for release after the audit committee met on tuesday to discuss the budget forecast
invoices suppliers shipping schedule meeting notes action items follow up"""
WORDS = tuple(TEXT.split())
SENSITIVE = ["contact jane.doe@example.com", "card 4556 7375 8689 9855", "ssn 536-22-8741",
             "key sk_live_51HabcXyZ12Qw8rTu0PLmn", "call +1 212-555-0143"]


class Office:
    """The document and how a person changes it, one frame per step."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines = [self.sentence() for _ in range(80)]
        self.top = 0
        self.cursor = 5

    def token(self) -> str:
        """Mostly common words; some ids, amounts and rarer words, as in real documents."""
        r = self.rng.random()
        if r < 0.7:
            return self.rng.choice(WORDS)
        if r < 0.8:
            return f"INV-{self.rng.randrange(10000, 99999)}"
        if r < 0.9:
            return f"{self.rng.randrange(1, 9999):,}.{self.rng.randrange(10, 99)}"
        return "".join(self.rng.choice("abcdefghiklmnoprstuw") for _ in range(self.rng.randrange(4, 10)))

    def sentence(self) -> str:
        words = [self.token() for _ in range(self.rng.randrange(4, 14))]
        if self.rng.random() < 0.15:
            words.insert(self.rng.randrange(len(words)), self.rng.choice(SENSITIVE))
        return " ".join(words)

    def step(self) -> str:
        r = self.rng.random()
        if r < 0.60:  # a typing burst appended to the current line
            line = self.top + self.cursor
            self.lines[line] = (self.lines[line] + " " + self.sentence())[:110]
            return "type"
        if r < 0.85:  # a click moves the cursor
            self.cursor = self.rng.randrange(0, WIN.height // LINE_H - 1)
            return "click"
        if r < 0.96:
            self.top = min(self.top + 3, len(self.lines) - WIN.height // LINE_H)
            return "scroll"
        self.lines = [self.sentence() for _ in range(80)]
        self.top = 0
        return "page"

    def render(self) -> np.ndarray:
        img = Image.new("RGB", (W, H), "black")
        d = ImageDraw.Draw(img)
        d.rectangle((WIN.x, WIN.y, WIN.x + WIN.width - 1, WIN.y + WIN.height - 1), fill="white")
        for i in range(WIN.height // LINE_H - 1):
            d.text((WIN.x + 6, WIN.y + 4 + i * LINE_H), self.lines[self.top + i], fill="black", font=FONT)
        cy = WIN.y + 4 + self.cursor * LINE_H
        d.rectangle((WIN.x + 2, cy, WIN.x + 4, cy + 13), fill="black")
        rgb = np.asarray(img)
        return np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0], np.full((H, W), 255, np.uint8)])


def cpu() -> float:
    return time.process_time()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--baseline-every", type=int, default=15, help="baseline sample: every Nth frame")
    args = ap.parse_args()
    office = Office(random.Random(7))
    frames, kinds = [office.render()], ["first"]
    for _ in range(args.frames - 1):
        kinds.append(office.step())
        frames.append(office.render())
    mix = {k: kinds.count(k) for k in ("type", "click", "scroll", "page")}
    print(f"{len(frames)} frames of scripted office work: {mix}")

    scanner = TextScanner(deny_list=["Jane Roe"])
    ocr = TesseractOcr()

    ours = FrameRedactor(ocr=ocr, scanner=scanner)
    per_kind: dict[str, list[float]] = {}
    for kind, f in zip(kinds, frames, strict=True):
        t0 = cpu()
        ours.redact(f, [WIN])
        per_kind.setdefault(kind, []).append(cpu() - t0)
    t_ours = sum(map(sum, per_kind.values()))

    # The baseline reads the whole window of every frame, so its cost per frame hardly varies:
    # it is timed on an evenly spaced sample of the same frames.
    sample = frames[::args.baseline_every]
    t0 = cpu()
    for f in sample:
        words = ocr.words(f, WIN)
        scanner.scan(" ".join(w.text for w in words))
    t_full = (cpu() - t0) * len(frames) / len(sample)

    bursts = [office.sentence() for _ in range(400)]
    chars = sum(map(len, bursts))
    t0 = cpu()
    for b in bursts:
        scanner.scan(b)
    t_text = cpu() - t0

    fps_ours, fps_full = len(frames) / t_ours, len(frames) / t_full
    for kind, times in per_kind.items():
        print(f"  {kind:7s}: {len(times):4d} frames, {len(times) / sum(times):7.2f} frames/s/core")
    share = ours.stats.ocr_pixels / (len(frames) * WIN.width * WIN.height)
    print(f"changed-region redaction : {fps_ours:8.2f} frames/s/core  ({t_ours:.1f} s CPU)")
    print(f"full-frame OCR baseline  : {fps_full:8.2f} frames/s/core  "
          f"({len(sample)} frames sampled, {t_full:.1f} s CPU for all)")
    print(f"ratio                    : {fps_ours / fps_full:8.1f}x")
    steady = [t for k, ts in per_kind.items() if k not in ("first", "page") for t in ts]
    print(f"ratio without new pages  : {len(steady) / sum(steady) / fps_full:8.1f}x "
          f"(a new page is read whole, as the baseline reads every frame)")
    print(f"pixels read by OCR       : {share * 100:8.1f} % of the full-frame baseline's")
    print(f"words OCR'd / from cache : {ours.stats.words_read} / {ours._lines.words_cached}")
    print(f"text scan                : {len(bursts) / t_text:8.0f} bursts/s/core, "
          f"{chars / t_text:,.0f} chars/s/core")


if __name__ == "__main__":
    main()
