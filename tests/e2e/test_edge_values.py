"""Values cut off at a window's edge in a real GTK editor never reach a stored frame.

Mousepad shows a document whose long lines run past the window's right edge, sized so the
edge cuts an e-mail address: (a) a document line whose visible part ends in
"canary.person@exam", which only the shape of a cut-off address gives away, and (b) a line
scrolled into view after the person typed an address, whose visible part ends in a prefix of
it with no "@" ("marlow.quen"), which only the typed-and-redacted value gives away. The stored
frames are read back with Debian's tesseract binary at 1x and 3x: no run of six letters or
digits of either address's personal part may show, and the plain words around them must.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from Xlib import X
from Xlib import display as xdisplay

from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import RecorderProcess, deskscribe
from tests.support import geometry

POLICY = """
version = "edge-values-1"
designated_apps = ["Mousepad"]
screenshot_interval_s = 3
"""
SHAPE = "canary.person@example.com"  # in the document, never typed
TYPED = "marlow.quentin@example.org"  # typed into the editor, then seen cut off elsewhere
TITLE = "Quarterly reports"
LINE_A = f"Approved by the finance team, contact {SHAPE} for questions"
SHOWN_A = "Approved by the finance team, contact canary.person@exam"
LINE_B = f"Please forward all quarterly figures soon to {TYPED} as agreed"
SHOWN_B = "Please forward all quarterly figures soon to marlow.quen"  # as long as SHOWN_A
FILLER = [f"Item {i} shipped on schedule" for i in range(24)]  # keeps line B out of view at first
PLAIN = ("approved", "finance", "contact", "forward", "quarterly", "figures", "shipped", "schedule")


def _alnum(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.casefold())


def fragments(address: str, width: int = 6) -> list[str]:
    """Every run of ``width`` letters and digits of an address that holds some of its personal
    part; the domain alone ("example.com") is no one's and shows in plain text too."""
    local, _, domain = address.partition("@")
    flat = _alnum(local) + _alnum(domain)
    return [flat[i:i + width] for i in range(len(_alnum(local)))]


NEEDLES = fragments(SHAPE) + fragments(TYPED)


def _screen(vd: VirtualDisplay) -> np.ndarray:
    """The real screen as RGB, in memory only: it shows both addresses."""
    disp = xdisplay.Display(vd.name)
    try:
        raw = disp.screen().root.get_image(0, 0, vd.width, vd.height, X.ZPixmap, 0xFFFFFFFF)
    finally:
        disp.close()
    return np.array(Image.frombytes("RGB", (vd.width, vd.height), raw.data, "raw", "BGRX"))


def _text_lines(rgb: np.ndarray, box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left ink, right ink) of each run of rows with dark ink in ``box``."""
    x, y, w, h = box
    dark = np.all(rgb[y:y + h, x:x + w] < 96, axis=2)
    rows: list[bool] = np.any(dark, axis=1).tolist()
    out, top = [], None
    for i, ink in enumerate([*rows, False]):
        if ink and top is None:
            top = i
        elif not ink and top is not None:
            cols = np.flatnonzero(np.any(dark[top:i], axis=0))
            out.append((y + top, y + i, x + int(cols[0]), x + int(cols[-1]) + 1))
            top = None
    return out


def _ocr(rgb: np.ndarray, box: tuple[int, int, int, int], tmp: Path, scale: int) -> str:
    """One window of a frame read by the tesseract binary, redaction boxes whitened (they
    confuse its layout analysis)."""
    x, y, w, h = box
    crop = rgb[y:y + h, x:x + w].copy()
    crop[(crop == 128).all(axis=2)] = 255
    img = Image.fromarray(crop).convert("L")
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.BICUBIC)
    path = tmp / "ocr-input.png"
    img.save(path)
    out = subprocess.run(["tesseract", str(path), "stdout", "--psm", "4"], capture_output=True,
                         text=True, timeout=120, check=True)
    return out.stdout


def _editor_env(vd: VirtualDisplay, home: Path) -> dict[str, str]:
    """Private XDG directories and in-memory settings: mousepad starts with its defaults and
    writes nothing outside ``home``; no blinking cursor to make every frame differ."""
    env = dict(vd.env, GSETTINGS_BACKEND="memory", NO_AT_BRIDGE="1")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        path = home / var.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    gtk = home / "xdg_config_home" / "gtk-3.0"
    gtk.mkdir(parents=True, exist_ok=True)
    (gtk / "settings.ini").write_text("[Settings]\ngtk-cursor-blink = false\n")
    return env


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    assert len(SHOWN_A) == len(SHOWN_B) and LINE_A.startswith(SHOWN_A) and LINE_B.startswith(SHOWN_B)
    tmp = tmp_path_factory.mktemp("edge")
    vd = VirtualDisplay(width=1280, height=800).start()
    editor: subprocess.Popen[bytes] | None = None
    try:
        doc = tmp / "report.txt"
        doc.write_text("\n".join([TITLE, LINE_A, "", *FILLER, LINE_B, ""]))
        editor = subprocess.Popen(["mousepad", str(doc)], env=_editor_env(vd, tmp / "home"),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield _record(vd, tmp, vd.wait_window(name="report.txt"))
    finally:
        if editor is not None:
            editor.terminate()
            editor.wait(timeout=10)
        vd.stop()


def _record(vd: VirtualDisplay, tmp: Path, win: str) -> dict[str, object]:
    wm_class = subprocess.run(["xprop", "-id", win, "WM_CLASS"], env=vd.env, capture_output=True,
                              text=True, check=True).stdout
    assert '"Mousepad"' in wm_class, wm_class  # what designated_apps names
    vd.xdotool("windowmove", "--sync", win, "40", "60")
    vd.xdotool("windowsize", "--sync", win, "1000", "320")
    time.sleep(1.0)
    box = geometry(vd, win)
    lines = _text_lines(_screen(vd), box)
    line_a = max(lines, key=lambda ln: ln[3])  # the longest line on screen, the title above it
    title = lines[lines.index(line_a) - 1]
    # A monospace font: one cell per character, measured over the two lines' last "s".
    cell = (line_a[3] - title[3]) / (len(LINE_A) - len(TITLE))
    origin = title[3] - len(TITLE) * cell
    cut = round(origin + len(SHOWN_A) * cell + 0.35 * cell)  # a sliver of the next glyph shows
    vd.xdotool("windowsize", "--sync", win, str(cut - box[0]), "320")
    time.sleep(1.0)
    box = geometry(vd, win)
    raw_a = _alnum(_ocr(_screen(vd), box, tmp, 3))
    # the premise: the edge cuts the address, and unredacted it would show
    assert "canaryperson" in raw_a and "examplecom" not in raw_a, raw_a

    policy = tmp / "policy.toml"
    policy.write_text(POLICY)
    rec = RecorderProcess(vd=vd, data_dir=tmp / "data", policy=policy)
    vd.activate(win)
    time.sleep(0.5)
    rec.start()
    try:
        time.sleep(1.2)
        vd.xdotool("mousemove", "--sync", str(box[0] + 40), str(line_a[1] + 10))  # the blank line 3
        vd.xdotool("click", "1")
        time.sleep(1.2)
        vd.xdotool("type", "--delay", "12", f"cc {TYPED}")
        vd.xdotool("key", "Return")  # ends the burst: the address is redacted and now known
        time.sleep(1.2)
        vd.xdotool("key", "ctrl+End")  # line B comes into view, cut by the same edge
        time.sleep(1.5)
        raw_b = _alnum(_ocr(_screen(vd), box, tmp, 3))
        vd.xdotool("key", "Up")  # a frame of what was on screen before this key
        time.sleep(1.5)
        log = rec.stop()
    finally:
        rec.kill()
    assert "marlowquen" in raw_b and "quentin" not in raw_b, raw_b  # the premise of case (b)
    return {"rec": rec, "box": box, "log": log}


def test_cut_off_values_never_reach_a_stored_frame(session: dict[str, object], tmp_path: Path) -> None:
    rec, box = session["rec"], session["box"]
    assert isinstance(rec, RecorderProcess) and isinstance(box, tuple)
    events = rec.dump()
    assert [e["text"] for e in events if e["kind"] == "text"] == ["cc <EMAIL_ADDRESS>"]
    deskscribe("sessions", "frames", rec.session_id, "--out", str(tmp_path / "frames"),
               "--data-dir", str(rec.data_dir))
    texts, seen = [], set()
    for png in sorted((tmp_path / "frames").glob("*.png")):
        digest = hashlib.sha256(png.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        rgb = np.array(Image.open(png).convert("RGB"))
        texts += [_ocr(rgb, box, tmp_path, scale) for scale in (1, 3)]
    assert len(seen) >= 3  # the document, the typed line, line B scrolled into view
    for text in texts:
        flat = _alnum(text)
        assert [n for n in NEEDLES if n in flat] == [], text
    everything = " ".join(texts).casefold()
    for word in PLAIN:
        assert word in everything, word  # precise boxes, not a blanket over the lines
