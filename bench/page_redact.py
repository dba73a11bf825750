"""Redaction of a real designated web page through the page's own report, against OCR of the
same frames, in one run.

datasette (a real web app nobody here wrote) serves a table of office notes, one in seven
carrying an e-mail, card number, SSN, API key or phone number, on loopback. Debian's Chromium,
driven by Playwright (headless, 1280x800), loads the extension's page reader (`lib.js`,
`page.js`) into the page. For each frame the page is scrolled, a screenshot taken, and then:
  1. the page path: the extension's `visibleText` in the page (its time, read inside the page,
     is added: it is the browser's CPU), the recorder's check of the report, the scan of its
     text, boxes applied to the pixels, and the redactor run on what the page could not
     describe (nothing, here: no images on the page);
  2. deskscribe's OCR path on the same frames (changed regions only, cached words);
  3. the full-frame OCR baseline: the whole viewport read for every frame, then the scanners.
One core for OCR (`OMP_THREAD_LIMIT=1`); CPU time of this process plus the page's own time.

    .venv/bin/python bench/page_redact.py [--frames 60]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

from deskscribe.browser.bundle import extension_dir
from deskscribe.browser.page import ScanCache, page_text
from deskscribe.context import VisibleText
from deskscribe.geometry import Rect
from deskscribe.pipeline.page_boxes import apply_texts
from deskscribe.redact.frames import FrameRedactor
from deskscribe.redact.ocr import TesseractOcr
from deskscribe.redact.text import TextScanner

sys.path.insert(0, str(Path(__file__).parent))
from redact import Office  # the same office text as bench/redact.py

W, H = 1280, 800
VIEW = Rect(0, 0, W, H)
VP = {"x": 0, "y": 0, "width": W, "height": H, "dpr": 1, "zoom": 1, "scale": 1,
      "raw": {"vvOffsetLeft": 0, "vvOffsetTop": 0}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_db(path: Path, rows: int) -> None:
    office = Office(random.Random(11))
    with sqlite3.connect(path) as db:
        db.execute("create table notes (id integer primary key, customer text, note text)")
        db.executemany("insert into notes (customer, note) values (?, ?)",
                       [(office.token(), office.sentence()) for _ in range(rows)])


def serve(db: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "datasette", "serve", str(db), "-h", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("datasette did not start")


def bgra(png: bytes) -> np.ndarray:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0], np.full(rgb.shape[:2], 255, np.uint8)])


READ = """() => { const t0 = performance.now();
  const r = deskscribeLib.visibleText(document.documentElement, VP, []);
  return {reply: {v: 1, type: "text", runs: r.runs, masks: r.masks, opaque: r.opaque, truncated: r.truncated},
          ms: performance.now() - t0}; }"""


def capture(url: str, frames: int) -> list[tuple[np.ndarray, dict[str, object], float]]:
    ext = extension_dir()
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic"])
        page = browser.new_page(viewport={"width": W, "height": H})
        page.goto(url)
        page.add_script_tag(content=f"const VP = {VP!r};".replace("'", '"'))
        for name in ("lib.js", "page.js"):
            page.add_script_tag(path=str(ext / name))
        for i in range(frames):
            page.evaluate(f"window.scrollTo(0, ({i} * 260) % Math.max(1, document.body.scrollHeight - {H}))")
            png = page.screenshot()
            got = page.evaluate(READ)
            out.append((bgra(png), got["reply"], float(got["ms"])))
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, port = Path(tmp) / "office.db", free_port()
        make_db(db, 600)
        server = serve(db, port)
        try:
            shots = capture(f"http://127.0.0.1:{port}/office/notes", args.frames)  # 100 rows a page
        finally:
            server.terminate()
            server.wait()
    scanner, ocr = TextScanner(deny_list=["Jane Roe"]), TesseractOcr()

    page_redactor, t_page, t_in_page, page_boxes = FrameRedactor(ocr=ocr, scanner=scanner), 0.0, 0.0, 0
    cached = ScanCache(scanner=scanner)  # as the browser source holds it
    for pixels, reply, ms in shots:
        t0 = time.process_time()
        text = page_text(reply, url=None)
        assert text is not None, "the page's report did not check out"
        boxes = text.boxes(cached)
        out, read = apply_texts(pixels, [VIEW], [VisibleText(region=VIEW, boxes=tuple(boxes),
                                                             masks=text.masks, opaque=text.opaque)])
        page_redactor.redact(out, read)
        t_page += time.process_time() - t0
        t_in_page += ms / 1000
        page_boxes += len(boxes)

    ours, t_ocr = FrameRedactor(ocr=ocr, scanner=scanner), 0.0
    for pixels, _, _ in shots:
        t0 = time.process_time()
        ours.redact(pixels, [VIEW])
        t_ocr += time.process_time() - t0

    sample = shots[::10]
    t0 = time.process_time()
    for pixels, _, _ in sample:
        scanner.scan(" ".join(w.text for w in ocr.words(pixels, VIEW)))
    t_full = (time.process_time() - t0) * len(shots) / len(sample)

    n = len(shots)
    page_cost = (t_page + t_in_page) / n
    print(f"{n} frames of a datasette table scrolled in Chromium ({W}x{H});"
          f" {page_boxes} finding boxes from the page")
    print(f"page report path         : {page_cost * 1000:8.2f} ms/frame  (recorder"
          f" {t_page / n * 1000:.2f} ms + in the page {t_in_page / n * 1000:.2f} ms)")
    print(f"changed-region OCR path  : {t_ocr / n * 1000:8.2f} ms/frame   ratio"
          f" {t_ocr / n / page_cost:6.1f}x")
    print(f"full-frame OCR baseline  : {t_full / n * 1000:8.2f} ms/frame   ratio"
          f" {t_full / n / page_cost:6.1f}x  ({len(sample)} frames sampled)")


if __name__ == "__main__":
    main()
