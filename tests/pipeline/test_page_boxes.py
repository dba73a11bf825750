"""A frame a context source described: boxes and masks applied, OCR left where it must read."""

from __future__ import annotations

import numpy as np

from deskscribe.capture.base import WindowInfo
from deskscribe.context import NoContext, VisibleText
from deskscribe.geometry import Rect
from deskscribe.pipeline.contexts import Contexts
from deskscribe.pipeline.page_boxes import NOTHING_TO_READ, apply_texts, uncovered
from deskscribe.redact.frames import FILL_BGRA


def test_boxes_are_grey_masks_black_and_ocr_reads_only_what_the_page_could_not_describe() -> None:
    pixels = np.full((100, 200, 4), 255, dtype=np.uint8)
    page = Rect(0, 20, 100, 80)
    text = VisibleText(region=page, boxes=(Rect(10, 30, 20, 10),), masks=(Rect(0, 60, 100, 40),),
                       opaque=(Rect(50, 25, 10, 10),))
    out, read = apply_texts(pixels, [page, Rect(120, 0, 80, 100)], [text])
    assert (out[30:40, 10:30] == np.array(FILL_BGRA[:4], dtype=np.uint8)).all()
    assert (out[60:100, 0:100] == 0).all()
    assert (out[0:20, 0:100] == 255).all() and (pixels == 255).all()  # the input is not changed
    assert Rect(120, 0, 80, 100) in read and Rect(50, 25, 10, 10) in read
    assert page not in read


def test_a_page_without_image_areas_is_read_whole_and_a_fully_described_one_not_at_all() -> None:
    pixels = np.zeros((50, 50, 4), dtype=np.uint8)
    page = Rect(0, 0, 50, 50)
    _, read = apply_texts(pixels, [page], [VisibleText(region=page)])
    assert read == (page,)
    _, read = apply_texts(pixels, [page], [VisibleText(region=page, opaque=())])
    assert read == (NOTHING_TO_READ,)


WINDOW = Rect(0, 0, 400, 300)
VIEW = VisibleText(region=Rect(10, 40, 380, 250), boxes=(Rect(20, 50, 60, 12),), opaque=())


def test_a_window_above_the_described_one_sends_the_covered_region_back_to_ocr() -> None:
    tooltip = Rect(100, 100, 80, 20)
    [kept] = uncovered([VIEW], [(WINDOW, True), (Rect(392, 2, 6, 6), False)], WINDOW)
    assert kept == VIEW  # a window above, beside the region, covers none of it
    [text] = uncovered([VIEW], [(WINDOW, True), (tooltip, True)], WINDOW)
    assert text.opaque is None and text.boxes == VIEW.boxes  # OCR reads it all, the boxes stay
    [text] = uncovered([VIEW], [(tooltip, True), (WINDOW, True)], WINDOW)
    assert text == VIEW  # below the described window: hidden by it, not covering it
    [text] = uncovered([VIEW], [(tooltip, True)], WINDOW)
    assert text.opaque is None  # the window is not where the source said: nothing is trusted
    page = VisibleText(region=Rect(0, 40, 400, 260), opaque=())
    assert uncovered([page], [(WINDOW, False), (page.region, True)], WINDOW) == [page]  # its own area


class Describes(NoContext):
    def __init__(self, text: VisibleText | None, *, covers: bool) -> None:
        self.text, self._covers = text, covers
        self.asked: list[int] = []

    def covers(self, window: WindowInfo) -> bool:
        return self._covers

    def visible_text(self, window: WindowInfo, mono_ns: int) -> VisibleText | None:
        self.asked.append(mono_ns)
        return self.text


def test_a_source_that_does_not_cover_a_window_may_describe_part_of_it_or_leave_it_to_ocr() -> None:
    win = WindowInfo(app="Mousepad", title="notes", pid=7, geometry=(0, 0, 400, 300))
    part = Describes(VIEW, covers=False)
    assert Contexts(sources=[part, Describes(None, covers=False)]).frame_text(win, 123) == (True, [VIEW])
    assert part.asked == [123]  # asked about the frame's moment
    assert Contexts(sources=[part, Describes(None, covers=True)]).frame_text(win, 5) == (False, [])
