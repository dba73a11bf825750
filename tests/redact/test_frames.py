"""Screenshot redaction with the real Tesseract on rendered screen text."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from deskscribe.capture.base import Rect
from deskscribe.frame_codec import FrameRecord
from deskscribe.redact.frames import FrameRedactor, cut_at, grow_bands, join_lines, line_text
from deskscribe.redact.known import KnownValues, known_hits
from deskscribe.redact.ocr import TesseractOcr, Word
from deskscribe.redact.stage import FrameStage
from deskscribe.redact.text import TextScanner

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


KNOWN = ["canary.person@example.com", "4556 7375 8689 9855", "sk_live_51HcanaryXyZ12Qw8rTu0PLmn",
         "information.desk@corp.example"]


@pytest.mark.parametrize(("text", "found"), [
    ("contact canary.person@exam\n", "canary.person@exam"),  # its start, at a line's end
    ("contact canary.per\n", "canary.per"),
    ("contact canary.persn@exam\n", "canary.persn@exam"),  # with an OCR error
    ("contact canary.person@exam|\n", "canary.person@exam"),  # and clipping debris
    ("son@example.com for questions\n", "son@example.com"),  # its end, at a line's start
    ("n@example.com for\n", "n@example.com"),
    ("card 4556 7375 86\n", "4556 7375 86"),
    ("89 9855 exp 12/29\n", "89 9855"),
    ("key sk_live_51Hcan\n", "sk_live_51Hcan"),
    ("the canary\n", "canary"),  # one word of a value, where a window edge cuts the line
])
def test_parts_of_known_values_at_a_line_edge_are_found(text: str, found: str) -> None:
    (span,) = known_hits(text, KNOWN)
    assert text[span[0]:span[1]] == found


@pytest.mark.parametrize("text", [
    "Approved by the finance team\n",
    "contact canar\n",  # five letters tell nothing
    "xcanary.person@exam\n",  # not where a word starts
    "canary.person@exam is new\n",  # not at the line's end
    "example.com for questions\n",  # the domain of an address is no one's
    "the quarterly report at 4556\n",
])
def test_other_text_at_a_line_edge_is_not_a_known_value(text: str) -> None:
    assert known_hits(text, KNOWN) == []


def test_one_word_of_a_known_value_counts_only_where_the_window_cuts_the_line() -> None:
    known = KnownValues()
    known.add(KNOWN)
    for text in ("see the information\n", "the canary\n"):
        assert known.hits(text) == []
        assert known.hits(text, cut_end=True) != []
    assert known.hits("contact canary.pers\n") != []  # two words of it: no ordinary word


CELL = FONT.getlength("m")  # a monospace font: every character is this wide


def window_screen(lines: dict[int, str], win: Rect, *, x: int | None = None) -> np.ndarray:
    """Text lines drawn from ``x`` (the window's left + 4 by default) and clipped by ``win``:
    everything outside it is black, as the recorder masks what is not the designated app."""
    img = Image.new("RGB", (W, H), "black")
    d = ImageDraw.Draw(img)
    d.rectangle((win.x, win.y, win.x + win.width - 1, win.y + win.height - 1), fill="white")
    for y, text in lines.items():
        d.text((win.x + 4 if x is None else x, y), text, fill="black", font=FONT)
    rgb = np.asarray(img).copy()
    outside = np.ones((H, W), bool)
    outside[win.y:win.y + win.height, win.x:win.x + win.width] = False
    rgb[outside] = 0
    return np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0], np.full((H, W), 255, np.uint8)])


def cut_after(visible: str, left: int = 24) -> Rect:
    """A window whose right edge falls just after ``visible`` drawn from ``left`` + 4, a few
    pixels into the next glyph."""
    return Rect(left, 10, round(4 + len(visible) * CELL) + 3, 300)


def readable(ocr: TesseractOcr, pixels: np.ndarray, win: Rect) -> str:
    """What OCR reads of the window, boxes whitened so they do not disturb the layout."""
    clean = pixels.copy()
    clean[(clean[..., :3] == 128).all(axis=2)] = 255
    return " ".join(w.text for w in ocr.words(clean, win)).casefold()


def test_an_address_cut_by_the_window_edge_is_boxed(ocr: TesseractOcr, scanner: TextScanner) -> None:
    shown = "Approved by the finance team, contact canary.person@exam"
    win = cut_after(shown)
    raw = window_screen({20: shown + "ple.com for questions", 40: "Quarterly report northern region"}, win)
    assert "canary" in readable(ocr, raw, win)  # the scanner alone finds no whole address here
    text = readable(ocr, FrameRedactor(ocr=ocr, scanner=scanner).redact(raw, [win]), win)
    assert "canary" not in text and "person" not in text, text
    for kept in ("approved", "finance", "contact", "quarterly", "northern"):
        assert kept in text


def test_cut_cards_ibans_and_tokens_at_the_window_edge_are_boxed(ocr: TesseractOcr,
                                                                  scanner: TextScanner) -> None:
    win = cut_after("Card on file for the quarter 4556 7375 86")
    raw = window_screen({20: "Card on file for the quarter 4556 7375 8689 9855",
                         40: "Pay the supplier to IBAN DE89 3704 0044 0532 013000",
                         60: "Deploy key for billing sk_live_51HcanaryXyZ12Qw8rTu0PLmn"}, win)
    text = readable(ocr, FrameRedactor(ocr=ocr, scanner=scanner).redact(raw, [win]), win)
    for canary in ("7375", "4556", "3704", "0044", "de89", "sk_live", "51hcan"):
        assert canary not in text, text
    for kept in ("card", "quarter", "supplier", "iban", "deploy", "billing"):
        assert kept in text


def test_a_card_scrolled_out_at_the_left_edge_is_boxed(ocr: TesseractOcr, scanner: TextScanner) -> None:
    win = Rect(100, 10, 500, 300)
    start = round(win.x + 2 - len("Card 45") * CELL)  # "Card 45" lies left of the window
    raw = window_screen({20: "Card 4556 7375 8689 9855 expires in December"}, win, x=start)
    text = readable(ocr, FrameRedactor(ocr=ocr, scanner=scanner).redact(raw, [win]), win)
    assert "8689" not in text and "9855" not in text and "7375" not in text, text
    assert "expires" in text and "december" in text


def test_parts_of_typed_values_at_the_window_edges_are_boxed(ocr: TesseractOcr, scanner: TextScanner) -> None:
    shown = "Forward the figures to marlow.quen"  # no "@": only the typed value tells
    win = cut_after(shown)
    raw = window_screen({20: shown + "tin@example.org today"}, win)
    win2 = Rect(100, 10, 500, 300)
    left = round(win2.x + 2 - len("pw Violet-C") * CELL)
    raw2 = window_screen({20: "pw Violet-Canary-4417 was set today"}, win2, x=left)
    r = FrameRedactor(ocr=ocr, scanner=scanner)
    r.add_known(["marlow.quentin@example.org", "Violet-Canary-4417"])
    text = readable(ocr, r.redact(raw, [win]), win)
    assert "marlow" not in text and "quen" not in text and "forward" in text and "figures" in text, text
    text = readable(ocr, r.redact(raw2, [win2]), win2)
    assert "canary" not in text and "4417" not in text and "set" in text and "today" in text, text


def test_ordinary_words_at_the_window_edges_are_not_boxed(ocr: TesseractOcr, scanner: TextScanner) -> None:
    shown = "Approved by the finance team and the information desk"
    win = cut_after(shown)
    raw = window_screen({20: shown + " for the region", 40: "the quarterly report for 2024 and 2025",
                         60: "Quarterly report northern region information",
                         80: "total 1,234,567.89 for the northern region budget, approved",
                         100: "call +1 212-555-0143 about the quarterly report and more"}, win)
    r = FrameRedactor(ocr=ocr, scanner=scanner)
    r.add_known(["jane.doe@example.com", "Violet-Canary-4417"])
    out = r.redact(raw, [win])
    assert r.stats.boxes == 1  # the phone number, found whole by the scanner
    assert "information" in readable(ocr, out, win) and "approved" in readable(ocr, out, win)


def test_a_box_at_the_window_edge_goes_when_its_text_does(ocr: TesseractOcr, scanner: TextScanner) -> None:
    shown = "Approved by the finance team, contact canary.person@exam"
    win = cut_after(shown)
    r = FrameRedactor(ocr=ocr, scanner=scanner)
    first = window_screen({20: shown + "ple"}, win)
    assert not np.array_equal(r.redact(first, [win]), first)  # the cut address is boxed
    later = window_screen({20: "Approved by the finance team, nothing else"}, win)
    assert np.array_equal(r.redact(later, [win]), later)


def test_values_wrapped_over_two_lines_are_boxed_on_both(ocr: TesseractOcr, scanner: TextScanner) -> None:
    full = "please write to the quarterly report team at jane.doe@exa"  # split at the last column
    win = cut_after(full)
    raw = window_screen({20: full, 37: "mple.com for further questions",
                         80: "card on file 4556 7375",  # wrapped at a space
                         97: "8689 9855 expires in December",
                         140: "the new password is Violet-Canary-",
                         157: "4417 as agreed with the finance team"}, win)
    r = FrameRedactor(ocr=ocr, scanner=scanner)
    r.add_known(["Violet-Canary-4417"])
    text = readable(ocr, r.redact(raw, [win]), win)
    for canary in ("jane", "mple", "4556", "7375", "8689", "9855", "violet", "4417"):
        assert canary not in text, text
    for kept in ("quarterly", "further", "questions", "expires", "december", "agreed", "finance"):
        assert kept in text


def test_adjacent_ordinary_lines_are_not_joined_into_findings(ocr: TesseractOcr, scanner: TextScanner) -> None:
    raw = screen({20: "the finance team approved INV-48213",
                  37: "2,450.00 for the northern region",
                  54: "Approved by the finance team and the",
                  71: "information desk on tuesday 2024",
                  88: "5550143 units were shipped"})
    r = FrameRedactor(ocr=ocr, scanner=scanner)
    r.add_known(["information.desk@corp.example"])
    assert np.array_equal(r.redact(raw), raw)


def _word(text: str, x: int, y: int = 100, w: int = 40, h: int = 12) -> Word:
    return Word(text, Rect(x, y, w, h))


def test_a_line_is_cut_where_its_words_reach_the_window_edge() -> None:
    edge = Rect(100, 0, 600, 400)
    assert cut_at([_word("a", 103), _word("b", 600)], edge) == (True, False)
    assert cut_at([_word("a", 160), _word("b", 657)], edge) == (False, True)  # 3 px short
    assert cut_at([_word("a", 160), _word("b", 630)], edge) == (False, True)  # a glyph and a bar
    assert cut_at([_word("a", 160), _word("b", 600)], edge) == (False, False)


def test_only_adjacent_lines_are_joined_and_only_at_their_ends() -> None:
    upper = line_text([_word("write", 0), _word("to", 50), _word("jane.doe@exa", 100, w=120)])
    lower = line_text([_word("mple.com", 0, y=116), _word("for", 90, y=116), _word("questions", 130, y=116)])
    j = join_lines(upper, lower, full=True)  # a full line may have split a word
    assert j is not None and j.text == "write to jane.doe@example.com for questions\n"
    assert j.text[j.at:].startswith("mple.com") and j.scan
    j = join_lines(upper, lower, full=False)  # elsewhere an app wraps at a space
    assert j is not None and "jane.doe@exa mple.com" in j.text and not j.scan
    cards = line_text([_word("card", 0), _word("4556", 50), _word("7375", 100)])
    rest = line_text([_word("8689", 0, y=116), _word("9855", 50, y=116), _word("expires", 100, y=116)])
    j = join_lines(cards, rest, full=False)
    assert j is not None and j.text == "card 4556 7375 8689 9855 expires\n" and j.scan
    assert join_lines(upper, line_text([_word("mple.com", 0, y=140)]), full=True) is None  # a new paragraph


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

    def last_line(self, pixels: np.ndarray, window: Rect) -> str:
        return ""

    ocr_pixels = 0


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
