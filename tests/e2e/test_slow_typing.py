"""A value typed slowly is on screen half-typed before the keystroke stage knows it: no frame
may be stored from that screen until the burst has been scanned."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.canary import crop, ocr_inputs, tesseract, trim
from tests.e2e.conftest import RecorderProcess, deskscribe
from tests.support import geometry

VALUE = "slow.canary@slowmail.example.com"
POLICY = """
version = "slow-typing-1"
designated_apps = ["XTerm"]
screenshot_interval_s = 1
"""


def test_no_frame_shows_a_value_typed_but_not_yet_scanned(vd: VirtualDisplay, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    vd.spawn(["xterm", "-T", "slow typing", "-geometry", "80x12+30+30", "-e", "cat"])
    term = vd.wait_window(name="^slow typing")
    vd.activate(term)
    box = geometry(vd, term)
    rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy)
    try:
        rec.start()
        vd.xdotool("type", "--delay", "150", f"write to {VALUE} today")  # about 5 s, several periods
        vd.xdotool("key", "Return")
        time.sleep(1.0)
        vd.xdotool("mousemove", "--sync", str(box[0] + 200), str(box[1] + 100))
        vd.xdotool("click", "1")  # its pre-action frame shows the line as cat echoed it
        time.sleep(1.0)
        rec.stop()
    finally:
        rec.kill()
    out = tmp_path / "frames"
    deskscribe("sessions", "frames", rec.session_id, "--out", str(out), "--data-dir", str(rec.data_dir))
    texts = [_ocr(png, box) for png in sorted(out.glob("*.png"))]
    assert len(texts) >= 2
    flat = [t.casefold().replace(" ", "") for t in texts]
    for part in ("slow.ca", "canary", "slowmail", "mail.ex"):
        assert not any(part in t for t in flat), texts
    assert any("today" in t for t in flat), texts  # the rest of the line stays readable


def _ocr(png: Path, box: tuple[int, int, int, int]) -> str:
    """The terminal's text at 1x and 3x, trimmed to its ink (Tesseract finds no page in a
    mostly blank window)."""
    rgb = crop(np.array(Image.open(png).convert("RGB")), box)
    trimmed = trim(rgb)
    if trimmed is None:
        return ""
    return "\n".join(tesseract(gray, scale=s) for _, gray in ocr_inputs(trimmed[1]) for s in (1, 3))
