"""Shared helpers for canary tests: finding canaries in artefacts, reading stored frames with
Debian's tesseract binary (a different engine build, scale and colour handling than the
recorder's own redaction), and driving real apps on a virtual display."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import mss
import numpy as np
import pyarrow.parquet as pq
import regex
from PIL import Image
from Xlib import X
from Xlib import display as xdisplay
from Xlib.protocol import event as xevent

from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import RecorderProcess, deskscribe

Box = tuple[int, int, int, int]  # x, y, width, height in screen pixels
Event = dict[str, object]


# -- finding canaries ----------------------------------------------------------------------


def alnum(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.casefold())


def find_leaks(text: str, needles: Sequence[str], *, ocr_errors: int = 0) -> list[str]:
    """Needles (letters and digits only) found in ``text`` compared on its letters and digits
    (so "4556 7375" and "4556-7375" are one value); ``ocr_errors`` misread, lost or extra
    characters are allowed, so a value read as "canary,person@examp1e,com" still counts."""
    flat = alnum(text)
    if not ocr_errors:
        return [n for n in needles if n in flat]
    alternatives = "|".join(needles)
    if not regex.search(f"(?:{alternatives}){{e<={ocr_errors}}}", flat):
        return []
    return [n for n in needles if regex.search(f"(?:{n}){{e<={ocr_errors}}}", flat)]


def windows(value: str, width: int = 8) -> list[str]:
    """Every run of ``width`` letters and digits of a value: a part of it cut at a window edge
    or left beside a redaction box is found too."""
    core = alnum(value)
    return [core[i:i + width] for i in range(max(1, len(core) - width + 1))]


def locate(text: str, needle: str, *, around: int = 60) -> str:
    """``text`` around the first place ``needle`` is spelled (separators allowed); for a reading
    off by one character, the letters and digits around the near match."""
    m = re.search("[^0-9a-z]{0,3}".join(map(re.escape, needle)), text, re.IGNORECASE)
    if m is not None:
        return text[max(0, m.start() - around):m.end() + around]
    flat = alnum(text)
    near = regex.search(f"(?:{needle}){{e<=1}}", flat, flags=regex.BESTMATCH)
    if near is None:
        return "(not found)"
    return f"near match {near.group()!r} in letters and digits {flat[max(0, near.start() - 30):near.end() + 30]!r}"


def words(text: str, *, min_len: int = 4) -> list[str]:
    """Plain words of a corpus line worth checking: letters only, at least ``min_len`` long."""
    return [w for w in re.findall(r"[A-Za-z]+", text) if len(w) >= min_len]


def typed_stream(events: Sequence[Event]) -> str:
    """The text a session's keystrokes leave behind, as a reader of the dump would rebuild it:
    printable key characters, ``text`` events (redacted bursts) in their place, backspace
    applied, a newline for Enter, Tab and each move to another window. A value typed one key
    per event (and so invisible to a substring search of the JSON dump) is whole here."""
    out: list[str] = []
    window: tuple[object, object] | None = None
    for e in events:
        if e["kind"] == "focus":
            if (e.get("app"), e.get("pid")) != window:
                out.append("\n")
                window = (e.get("app"), e.get("pid"))
        elif e["kind"] == "text":
            for _ in range(int(str(e.get("erase") or 0))):
                if out:
                    out.pop()
            out.append(str(e["text"]))
        elif e["kind"] == "key_down":
            key, char = str(e["key"]), e.get("char")
            mods = set(e.get("mods") or ())  # type: ignore[call-overload]
            if key in ("enter", "tab"):
                out.append("\n")
            elif key == "backspace" and not mods:
                if out:
                    out.pop()
            elif char and not mods - {"shift", "altgr", "caps_lock"}:
                out.append(str(char))
    return "".join(out)


def typed_actions(actions: Sequence[Mapping[str, object]]) -> str:
    """The text a dataset's actions type, as a replay would: ``type`` text in order, a newline
    for Enter or Tab and at any other action (a click, a chord) between bursts."""
    out: list[str] = []
    for a in actions:
        if a["type"] == "type":
            out.append(str(a["text"]))
        else:
            out.append("\n")
    return "".join(out)


def export_artefacts(out: Path) -> tuple[str, list[bytes]]:
    """Every text of an export directory (JSON, JSON lines, the dataset card, Parquet columns
    read with pyarrow) and the bytes of every image it holds (files and Parquet cells)."""
    texts: list[str] = []
    images: list[bytes] = []
    for f in sorted(out.rglob("*")):
        if not f.is_file():
            continue
        if f.suffix in (".jsonl", ".json", ".md", ".txt", ".csv"):
            texts.append(f.read_text())
        elif f.suffix in (".png", ".jpg", ".jpeg", ".webp"):
            images.append(f.read_bytes())
        elif f.suffix == ".parquet":
            table = pq.read_table(f)
            for row in table.to_pylist():
                for key, value in row.items():
                    if isinstance(value, dict) and isinstance(value.get("bytes"), bytes):
                        images.append(value["bytes"])
                        row[key] = {k: v for k, v in value.items() if k != "bytes"}
                texts.append(json.dumps(row, default=str))
        else:
            texts.append(f.read_bytes().decode("latin-1"))
    return "\n".join(texts), images


# -- the recorder ----------------------------------------------------------------------------


class CapturingRecorder(RecorderProcess):
    """The recorder process as in conftest, keeping all it wrote to stdout and stderr."""

    stdout: str = ""
    stderr: str = ""

    def stop(self) -> str:
        assert self.proc is not None
        time.sleep(0.4)  # let the last grabs and commits land, as a person stopping would
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=90)
        self.stdout, self.stderr = out, "".join(self.notes) + err
        assert self.proc.returncode == 0, err
        return out


def dump_frames(rec: RecorderProcess, out: Path) -> list[tuple[str, np.ndarray]]:
    """Every stored frame (``sessions frames``) as RGB arrays, in order."""
    deskscribe("sessions", "frames", rec.session_id, "--out", str(out), "--data-dir", str(rec.data_dir))
    return [(p.name, np.array(Image.open(p).convert("RGB"))) for p in sorted(out.glob("*.png"))]


def stored_frame_of(real: np.ndarray, stored: Sequence[tuple[str, np.ndarray]]) -> str | None:
    """The last stored frame (name, same crop) that equals ``real`` in every pixel it did not
    box (grey 128): the frame of that moment. ``real`` has non-designated windows black already."""
    for name, rgb in reversed(stored):
        if rgb.shape != real.shape:
            continue
        compared = ~(rgb == 128).all(axis=2)
        if compared.mean() > 0.5 and np.array_equal(rgb[compared], real[compared]):
            return str(name)
    return None


def pixel_digest(rgb: np.ndarray) -> str:
    return hashlib.blake2b(rgb.tobytes(), digest_size=16, person=b"%dx%d" % rgb.shape[:2]).hexdigest()


# -- reading pixels ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Band:
    """A strip of one window in one frame: what changed since the previous frame (whole text
    lines around it), or the whole window the first time it shows."""

    frame: str
    box: str
    top: int
    pixels: np.ndarray


@dataclass(frozen=True, slots=True)
class Reading:
    frame: str
    box: str
    top: int
    scale: int
    polarity: str
    text: str

    def where(self) -> str:
        return f"{self.frame} {self.box}@y{self.top} {self.scale}x {self.polarity}"


def crop(rgb: np.ndarray, box: Box) -> np.ndarray:
    x, y, w, h = box
    return rgb[max(0, y):y + h, max(0, x):x + w]


def trim_box(rgb: np.ndarray, pad: int = 6) -> Box | None:
    """Where the rows and columns that are not one colour are, with ``pad`` around (x, y, w, h
    within ``rgb``); None if it is blank."""
    flat = rgb.astype(np.int16).sum(axis=2)
    rows = np.flatnonzero(flat.max(axis=1) != flat.min(axis=1))
    cols = np.flatnonzero(flat.max(axis=0) != flat.min(axis=0))
    if rows.size == 0 or cols.size == 0:
        return None
    a, b = max(0, int(rows[0]) - pad), min(rgb.shape[0], int(rows[-1]) + pad + 1)
    c, d = max(0, int(cols[0]) - pad), min(rgb.shape[1], int(cols[-1]) + pad + 1)
    return c, a, d - c, b - a


def trim(rgb: np.ndarray, pad: int = 6) -> tuple[int, np.ndarray] | None:
    """The top row and pixels of :func:`trim_box`; None if blank."""
    area = trim_box(rgb, pad)
    if area is None:
        return None
    x, y, w, h = area
    return y, rgb[y:y + h, x:x + w]


def changed_bands(frames: Sequence[tuple[str, np.ndarray]], boxes: Mapping[str, Box], *,
                  margin: int = 26) -> list[Band]:
    """Bands of each box that differ from the previous frame, grown by ``margin`` rows to whole
    text lines; a band seen before (same pixels) is listed once. Together they cover every
    pixel of every stored frame, while each distinct line is read only a few times."""
    out: list[Band] = []
    seen: set[str] = set()
    for name, (bx, by, bw, bh) in boxes.items():
        prev: np.ndarray | None = None
        for frame, rgb in frames:
            cur = crop(rgb, (bx, by, bw, bh))
            if prev is None or prev.shape != cur.shape:
                runs = [(0, cur.shape[0])]
            else:
                rows = np.flatnonzero((cur != prev).any(axis=(1, 2)))
                runs = []
                for r in rows.tolist():
                    a, b = max(0, r - margin), min(cur.shape[0], r + margin + 1)
                    if runs and a <= runs[-1][1]:
                        runs[-1] = (runs[-1][0], max(runs[-1][1], b))
                    else:
                        runs.append((a, b))
            prev = cur
            for a, b in runs:
                trimmed = trim(cur[a:b])
                if trimmed is None:
                    continue
                top, pixels = trimmed
                digest = pixel_digest(pixels)
                if digest not in seen:
                    seen.add(digest)
                    out.append(Band(frame, name, by + a + top, pixels))
    return out


def ocr_inputs(rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Grey images with dark text on white for Tesseract, each with its name. Light-on-dark text
    is inverted, and colour is kept apart from brightness (the channel extreme, not luma), so
    blue text on a black terminal reads as well as white; a window mixing both polarities
    (reverse video, a coloured banner) is read both ways. Redaction boxes (grey 128) become
    white: Tesseract's layout analysis stumbles over them."""
    boxed = (rgb == 128).all(axis=2)
    luma = (rgb.astype(np.uint16) @ np.array([77, 150, 29], dtype=np.uint16)) >> 8
    free = luma[~boxed]
    if free.size == 0:
        return []
    dark_share = float((free < 96).mean())
    light_share = float((free >= 160).mean())
    on_light = ("dark text", rgb.min(axis=2))
    on_dark = ("light text", 255 - rgb.max(axis=2))
    first, second = (on_light, on_dark) if dark_share < 0.5 else (on_dark, on_light)
    images = [first] + ([second] if min(dark_share, light_share) > 0.02 else [])
    out = []
    for name, img in images:
        img = np.ascontiguousarray(img.astype(np.uint8))
        img[boxed] = 255
        out.append((name, img))
    return out


def tesseract(gray: np.ndarray, *, scale: int) -> str:
    """Debian's tesseract binary on one grey image, through a pipe (nothing written to disk).
    At 1x sparse-text mode, at 3x (bicubic) the single-column mode."""
    img = Image.fromarray(gray, "L")
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.BICUBIC)
    if img.width < 8 or img.height < 8:
        return ""
    buf = io.BytesIO()
    img.save(buf, "PNG")
    psm = "11" if scale == 1 else "4"
    out = subprocess.run(["tesseract", "stdin", "stdout", "--psm", psm], input=buf.getvalue(),
                         capture_output=True, timeout=180, check=True,
                         env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return out.stdout.decode("utf-8", errors="replace")


def tesseract_words(gray: np.ndarray, *, scale: int = 3) -> list[tuple[str, Box]]:
    """Words Tesseract reads in ``gray`` (at ``scale``, single-column mode), each with its box in
    the coordinates of ``gray``."""
    img = Image.fromarray(gray, "L")
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    out = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "4", "tsv"], input=buf.getvalue(),
                         capture_output=True, timeout=180, check=True,
                         env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    found = []
    for line in out.stdout.decode("utf-8", errors="replace").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) == 12 and cols[0] == "5" and cols[11].strip():
            x, y, w, h = (int(v) // scale for v in cols[6:10])
            found.append((cols[11].strip(), (x, y, max(1, w), max(1, h))))
    return found


def read_bands(bands: Sequence[Band], *, scales: Sequence[int] = (1, 3), workers: int = 2
               ) -> list[Reading]:
    """OCR every band at every scale (both polarities where it mixes them), ``workers`` at once."""
    jobs = [(band, polarity, gray, scale) for band in bands for polarity, gray in ocr_inputs(band.pixels)
            for scale in scales]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        texts = list(pool.map(lambda job: tesseract(job[2], scale=job[3]), jobs))
    return [Reading(band.frame, band.box, band.top, scale, polarity, text)
            for (band, polarity, _, scale), text in zip(jobs, texts, strict=True)]


def found_words(texts: Iterable[str], wanted: Iterable[str]) -> set[str]:
    """Which ``wanted`` words appear (letters compared case-blind, spacing ignored)."""
    flat = alnum(" ".join(texts))
    return {w for w in wanted if alnum(w) in flat}


# -- the desktop ---------------------------------------------------------------------------------


def screenshot(vd: VirtualDisplay) -> np.ndarray:
    """The real screen as RGB, kept in memory only (it shows every canary)."""
    with mss.MSS(display=vd.name) as sct:
        grab = sct.grab(sct.monitors[0])
        return np.array(Image.frombytes("RGB", grab.size, grab.bgra, "raw", "BGRX"))


def client_box(vd: VirtualDisplay, win: str) -> Box:
    """Absolute client geometry per xwininfo (the window manager's frame not included)."""
    out = subprocess.run(["xwininfo", "-id", win], env=vd.env, capture_output=True, text=True,
                         check=True).stdout
    field = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
    return (int(field["Absolute upper-left X"]), int(field["Absolute upper-left Y"]),
            int(field["Width"]), int(field["Height"]))


def frame_box(vd: VirtualDisplay, win: str) -> Box:
    """The client box grown by the window manager's frame (_NET_FRAME_EXTENTS: title bar and
    borders), i.e. everything of the window on screen."""
    x, y, w, h = client_box(vd, win)
    out = subprocess.run(["xprop", "-id", win, "_NET_FRAME_EXTENTS"], env=vd.env, capture_output=True,
                         text=True, check=True).stdout
    found = re.findall(r"\d+", out.partition("=")[2])
    left, right, top, bottom = (int(v) for v in found) if len(found) == 4 else (0, 0, 0, 0)
    return x - left, y - top, w + left + right, h + top + bottom


def union_box(boxes: Iterable[Box]) -> Box:
    bs = list(boxes)
    x0, y0 = min(b[0] for b in bs), min(b[1] for b in bs)
    x1, y1 = max(b[0] + b[2] for b in bs), max(b[1] + b[3] for b in bs)
    return x0, y0, x1 - x0, y1 - y0


def keep_above(vd: VirtualDisplay, win: str) -> None:
    """Ask the window manager to keep ``win`` above normal windows (EWMH _NET_WM_STATE_ABOVE),
    so it stays over a designated window that is activated later, as chat pop-ups do."""
    disp = xdisplay.Display(vd.name)
    try:
        state, above = disp.intern_atom("_NET_WM_STATE"), disp.intern_atom("_NET_WM_STATE_ABOVE")
        window = disp.create_resource_object("window", int(win))
        msg = xevent.ClientMessage(window=window, client_type=state, data=(32, [1, above, 0, 1, 0]))
        disp.screen().root.send_event(msg, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        disp.flush()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            prop = window.get_full_property(state, X.AnyPropertyType)
            if prop is not None and above in prop.value:
                return
            time.sleep(0.05)
        raise AssertionError(f"window {win} was not kept above")
    finally:
        disp.close()


def app_env(vd: VirtualDisplay, home: Path) -> dict[str, str]:
    """The desktop's environment with private XDG directories, so GTK apps start with default
    settings and leave nothing in the real home directory."""
    env = dict(vd.env)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        path = home / var.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env["GSETTINGS_BACKEND"] = "memory"
    gtk = home / "xdg_config_home" / "gtk-3.0"
    gtk.mkdir(parents=True, exist_ok=True)
    # A blinking text cursor would make every periodic frame differ from the last.
    (gtk / "settings.ini").write_text("[Settings]\ngtk-cursor-blink = false\n")
    return env


class Apps:
    """Programs started for one desktop with their own environment; stopped by :meth:`stop`."""

    def __init__(self, vd: VirtualDisplay, env: Mapping[str, str]) -> None:
        self.vd, self.env = vd, dict(env)
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, args: Sequence[str], *, cwd: Path | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(args), env=self.env, cwd=cwd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def run(self, args: Sequence[str]) -> None:
        subprocess.run(list(args), env=self.env, check=True, timeout=30, capture_output=True)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def type_line(vd: VirtualDisplay, text: str, *, enter: bool = True, settle: float = 0.3) -> None:
    vd.xdotool("type", "--delay", "15", text)
    if enter:
        vd.xdotool("key", "Return")
    time.sleep(settle)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
