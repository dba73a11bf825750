"""Screenshot redaction with the real Tesseract on rendered screen text."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from deskscribe.capture.base import Rect
from deskscribe.redact.frames import FrameRedactor, grow_bands, known_hits
from deskscribe.redact.ocr import TesseractOcr
from deskscribe.redact.stage import FrameStage
from deskscribe.redact.text import TextScanner
from deskscribe.store import FrameRecord

FONT = ImageFont.truetype("DejaVuSansMono.ttf", 13)
W, H = 800, 400


def screen(lines: dict[int, str]) -> np.ndarray:
    """A white BGRA screen with text lines at the given y."""
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    for y, text in lines.items():
        d.text((20, y), text, fill="black", font=FONT)
    rgb = np.asarray(img)
    return np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0], np.full((H, W), 255, np.uint8)])


@pytest.fixture(scope="module")
def ocr() -> TesseractOcr:
    return TesseractOcr()


@pytest.fixture(scope="module")
def scanner() -> TextScanner:
    return TextScanner()


def read(ocr: TesseractOcr, pixels: np.ndarray) -> str:
    return " ".join(w.text for w in ocr.words(pixels, Rect(0, 0, W, H)))


def test_findings_are_boxed_and_the_rest_stays_readable(ocr: TesseractOcr, scanner: TextScanner) -> None:
    raw = screen({20: "Customer jane.doe@example.com paid with 4111 1111 1111 1111",
                  50: "SSN 536-22-8741 and the weather is fine today",
                  80: "token sk_live_51Habc9XyZ12Qw8rTu0PLmn for billing"})
    out = FrameRedactor(ocr=ocr, scanner=scanner).redact(raw)
    text = read(ocr, out).casefold()
    for canary in ("jane", "example", "4111", "536", "8741", "sk_live"):
        assert canary not in text
    for kept in ("customer", "paid", "weather", "today", "token", "billing"):
        assert kept in text
    assert not np.array_equal(out, raw)


def test_values_redacted_from_typing_are_boxed_on_screen(ocr: TesseractOcr, scanner: TextScanner) -> None:
    raw = screen({20: "motto bluebird-lantern-42 is here"})
    r = FrameRedactor(ocr=ocr, scanner=scanner)
    r.add_known(["bluebird-lantern-42"])
    text = read(ocr, r.redact(raw))
    assert "bluebird" not in text and "lantern" not in text and "here" in text


def test_only_changed_regions_are_read_again_and_old_boxes_stay(ocr: TesseractOcr, scanner: TextScanner) -> None:
    first = screen({20: "mail jane.doe@example.com", 300: "status ok"})
    r = FrameRedactor(ocr=ocr, scanner=scanner)
    r.redact(first)
    full = r.stats.ocr_pixels
    second = screen({20: "mail jane.doe@example.com", 300: "status done"})
    out = r.redact(second)
    assert r.stats.ocr_pixels - full < full / 2  # the band around line 300, not the screen
    text = read(ocr, out)
    assert "jane" not in text and "done" in text


def test_a_band_touching_a_box_grows_over_all_of_it() -> None:
    box = Rect(500, 100, 200, 16)
    (band,) = grow_bands([Rect(100, 96, 32, 32)], [box], 1000, 400)
    assert band.x <= box.x and band.x + band.width >= box.x + box.width


@pytest.mark.parametrize(("text", "found"), [
    ("key ABCD-1234-EFGH-567O here", "ABCD-1234-EFGH-567O"),  # misread
    ("mail canary,.personBexample,com ssn", "canary,.personBexample,com"),  # "@" read as "B,"
    ("mail canary.persn@example.com ssn", "canary.persn@example.com"),  # a lost character
])
def test_known_values_survive_ocr_errors(text: str, found: str) -> None:
    values = ["abcd1234efgh5670", "canarypersonexamplecom"]
    (span,) = known_hits(text, values)
    assert text[span[0]:span[1]] == found


def test_known_values_do_not_match_other_text() -> None:
    assert known_hits("mail someone.else@example.org ssn", ["canarypersonexamplecom"]) == []


class _Slow:
    """A redactor that blocks until released, to fill the stage's queue."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.seen: list[int] = []

    def redact(self, pixels: np.ndarray, windows: Sequence[Rect] = ()) -> np.ndarray:
        self.go.wait()
        self.seen.append(int(pixels[0, 0, 0]))
        return np.zeros_like(pixels)

    def add_known(self, values: Iterable[str]) -> None:
        pass


class _Sink:
    def __init__(self) -> None:
        self.records: list[FrameRecord] = []

    def add_frame(self, record: FrameRecord) -> None:
        self.records.append(record)


def test_stage_drops_the_oldest_waiting_frames_and_stores_only_redacted_pixels() -> None:
    slow, sink = _Slow(), _Sink()
    stage = FrameStage(redactor=slow, sink=sink, limit=3)
    for i in range(1, 9):
        stage.submit(i, i, np.full((8, 8, 4), i, np.uint8))
    slow.go.set()
    stage.drain()
    stage.close()
    assert stage.dropped == 8 - len(slow.seen) and stage.dropped >= 4
    assert slow.seen[-3:] == [6, 7, 8]  # the newest frames survive
    assert [r.frame_id for r in sink.records] == slow.seen
    assert all(p.png for r in sink.records for p in r.parts) or all(not r.parts for r in sink.records)
    assert all(not r.parts for r in sink.records)  # the redactor's black output, not the input
