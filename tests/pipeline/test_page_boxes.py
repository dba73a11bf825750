"""A frame a context source described: boxes and masks applied, OCR left where it must read."""

from __future__ import annotations

import numpy as np

from deskscribe.context import VisibleText
from deskscribe.geometry import Rect
from deskscribe.pipeline.page_boxes import NOTHING_TO_READ, apply_texts
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
