"""Canary suite: sensitive values typed, shown and put in titles of real apps never reach any
artefact, while the ordinary text around them does."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import regex
from PIL import Image

from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import RecorderProcess, deskscribe
from tests.support import geometry

CARD = "4556 7375 8689 9855"
EMAIL = "canary.person@example.com"
DOC_EMAIL = "canary.doc@example.com"
SSN = "536-22-8741"
API_KEY = "sk_live_51HcanaryXyZ12Qw8rTu0PLmn"
PASSWORD = "Zebra-Canary-9931!"
GUI_PASSWORD = "Violet-Canary-4417"
FORM_PASSWORD = "sunshinegarden"  # nothing but the field's accessible role marks it secret
NAME = "Rowan Canarywood"
TITLE_SECRET = "ghp_Canary0123456789abcdefghijklmnop"
# What must never be found (long enough not to occur by chance in timestamps or ciphertext);
# each is also searched with spaces and dashes removed.
CANARIES = ["45567375", "73758689", "86899855", "canary.person", "canary.doc", "536-22-8741",
            "sk_live", "hcanaryxyz", "zebra-canary", "canary-9931", "violet-canary",
            "canary-4417", "sunshinegarden", "rowan canarywood", "canarywood", "ghp_canary",
            "0123456789abcdef"]
POLICY = f"""
version = "canary-1"
designated_apps = ["XTerm", "Zenity"]
screenshot_interval_s = 1
deny_list = ["{NAME}"]
"""
DOC = """Quarterly report northern region
Contact {email} for questions
Card on file {card}
Approved by the finance team
"""


def _alnum(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.casefold())


def leaks(text: str, *, ocr_errors: int = 0) -> list[str]:
    """Canaries in ``text``, compared on letters and digits only; for OCR output one misread
    character is allowed, so a value read as "canary,person@example,com" still counts."""
    flat = _alnum(text)
    return [c for c in CANARIES if c in text.casefold()
            or regex.search(f"(?:{_alnum(c)}){{e<={ocr_errors}}}", flat)]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    tmp = tmp_path_factory.mktemp("canary")
    vd = VirtualDisplay(width=1280, height=800).start()
    try:
        yield _record(vd, tmp)
    finally:
        vd.stop()


def _record(vd: VirtualDisplay, tmp: Path) -> dict[str, object]:
    doc = tmp / "report.txt"
    doc.write_text(DOC.format(email=DOC_EMAIL, card=CARD))
    policy = tmp / "policy.toml"
    policy.write_text(POLICY)
    vd.spawn(["xterm", "-T", f"ticket {TITLE_SECRET}", "-geometry", "110x30+20+20",
              "-e", "bash", "--norc", "--noprofile"])
    term = vd.wait_window(name="^ticket")
    prompt = vd.spawn(["zenity", "--password", "--title", "Password required"])
    dialog = vd.wait_window(name="Password required")
    vd.xdotool("windowmove", "--sync", dialog, "800", "500")
    form_proc = vd.spawn(["zenity", "--forms", "--title", "Acme CRM", "--add-entry", "User",
                          "--add-password", "Secret"])
    form = vd.wait_window(name="Acme CRM")
    vd.xdotool("windowmove", "--sync", form, "800", "100")
    windows = [geometry(vd, term), geometry(vd, dialog)]
    rec = RecorderProcess(vd=vd, data_dir=tmp / "data", policy=policy)
    vd.activate(term)
    rec.start()
    try:
        for line in (f"cat {doc}", f"echo card {CARD} mail {EMAIL} ssn {SSN}",
                     f"echo key {API_KEY} for {NAME}", "openssl passwd"):
            vd.xdotool("type", "--delay", "15", line)
            vd.xdotool("key", "Return")
            time.sleep(0.6)
        for _ in range(2):  # the real prompt asks for the password and its confirmation
            vd.xdotool("type", "--delay", "15", PASSWORD)
            vd.xdotool("key", "Return")
            time.sleep(0.6)
        vd.xdotool("type", "--delay", "15", "echo all done")
        vd.xdotool("key", "Return")
        time.sleep(1.5)
        vd.xdotool("mousemove", "--sync", "300", "200")
        vd.xdotool("click", "1")
        time.sleep(1.5)
        vd.activate(dialog)
        vd.xdotool("type", "--delay", "15", GUI_PASSWORD)
        time.sleep(0.3)
        vd.xdotool("key", "Return")
        prompt.wait(timeout=10)
        vd.activate(form)
        time.sleep(0.5)
        vd.xdotool("type", "--delay", "15", "alice")
        vd.xdotool("key", "Tab")
        time.sleep(0.3)
        vd.xdotool("type", "--delay", "15", FORM_PASSWORD)
        time.sleep(0.3)
        vd.xdotool("key", "Tab")  # on to the form's next control: the burst ends there
        time.sleep(0.3)
        form_proc.terminate()
        vd.activate(term)
        time.sleep(1.2)
        log = rec.stop()
    finally:
        rec.kill()
    return {"rec": rec, "log": log, "tmp": tmp, "windows": windows}


def test_typed_and_title_canaries_never_reach_the_store(session: dict[str, object]) -> None:
    rec = session["rec"]
    assert isinstance(rec, RecorderProcess)
    events = rec.dump()
    dump = json.dumps(events)
    assert leaks(dump) == [], [e for e in events if leaks(json.dumps(e))]
    raw = b"".join(p.read_bytes() for p in (rec.data_dir / "sessions").iterdir())
    assert leaks(raw.decode("latin-1")) == []
    assert leaks(str(session["log"])) == []

    texts = [str(e["text"]) for e in events if e["kind"] == "text"]
    assert "echo card <CREDIT_CARD> mail <EMAIL_ADDRESS> ssn <US_SSN>" in texts, texts
    assert "echo key <SECRET> for <NAME>" in texts, texts
    # twice in the terminal prompt, once in the password dialog, once in the form's field
    assert texts.count("<PASSWORD>") == 4, texts
    typed = "".join(str(e["char"]) for e in events if e["kind"] == "key_down" and e["char"])
    assert "cat " in typed and "openssl passwd" in typed and "echo all done" in typed
    assert "alice" in typed  # the form's user name field is ordinary text
    titles = {str(e["title"]) for e in events if e["kind"] == "focus"}
    assert "ticket <SECRET>" in titles


def test_no_stored_frame_shows_a_canary_but_the_document_is_readable(
        session: dict[str, object], tmp_path: Path) -> None:
    rec = session["rec"]
    assert isinstance(rec, RecorderProcess)
    deskscribe("sessions", "frames", rec.session_id, "--out", str(tmp_path / "frames"),
               "--data-dir", str(rec.data_dir))
    texts, seen = [], set()
    for png in sorted((tmp_path / "frames").glob("*.png")):
        digest = hashlib.sha256(png.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        for box in session["windows"]:  # type: ignore[attr-defined]
            texts.append(_ocr(png, box, tmp_path))
    assert len(texts) >= 6
    for text in texts:
        assert leaks(text, ocr_errors=1) == [], text
    everything = " ".join(texts).casefold()
    for kept in ("quarterly", "finance", "approved", "all done"):
        assert kept in everything  # redaction is precise, not a blanket


def test_no_export_format_carries_a_canary(session: dict[str, object], tmp_path: Path) -> None:
    rec = session["rec"]
    assert isinstance(rec, RecorderProcess)
    for fmt in ("jsonl", "chat", "hf"):
        out = tmp_path / fmt
        deskscribe("build", "--format", fmt, "--out", str(out), "--data-dir", str(rec.data_dir))
        blob = []
        for f in out.rglob("*"):
            if f.suffix in (".jsonl", ".json", ".md"):
                blob.append(f.read_text())
            elif f.suffix == ".parquet":
                table = pq.read_table(f)
                blob.append(json.dumps(table.drop_columns(
                    [c for c in table.column_names if c == "image"]).to_pylist(), default=str))
        assert blob and leaks("\n".join(blob)) == []
        assert "<CREDIT_CARD>" in "\n".join(blob)


def _ocr(png: Path, box: tuple[int, int, int, int], tmp: Path) -> str:
    """Read one window of a stored frame with Debian's tesseract binary at 3x: a different
    engine build and scale than the recorder's own redaction uses."""
    big = tmp / "ocr-input.png"
    x, y, w, h = box
    rgb = np.array(Image.open(png).convert("RGB"))
    rgb[(rgb == 128).all(axis=2)] = 255  # redaction boxes confuse Tesseract's layout analysis
    img = Image.fromarray(rgb).convert("L").crop((x, y, x + w, y + h))
    img.resize((img.width * 3, img.height * 3), Image.Resampling.BICUBIC).save(big)
    out = subprocess.run(["tesseract", str(big), "stdout", "--psm", "4"], capture_output=True,
                         text=True, timeout=120, check=True)
    return out.stdout
