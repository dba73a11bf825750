"""Screen rectangle arithmetic shared by capture and redaction."""

import pytest

from deskscribe.geometry import (
    Rect,
    clip,
    clip_merge,
    inside,
    intersect,
    merge,
    overlaps,
    pad,
    subtract,
    touches,
    union,
)


@pytest.mark.parametrize(("a", "b", "want"), [
    (Rect(0, 0, 10, 10), Rect(5, 5, 10, 10), Rect(5, 5, 5, 5)),
    (Rect(0, 0, 10, 10), Rect(20, 20, 5, 5), Rect(20, 20, 0, 0)),
    (Rect(0, 0, 10, 10), Rect(2, 2, 3, 3), Rect(2, 2, 3, 3)),
])
def test_intersect(a: Rect, b: Rect, want: Rect) -> None:
    assert intersect(a, b) == want


def test_union_clip_and_pad() -> None:
    assert union([Rect(0, 0, 1, 1), Rect(5, 6, 2, 2)]) == Rect(0, 0, 7, 8)
    assert clip(Rect(-5, 90, 20, 20), 100, 100) == Rect(0, 90, 15, 10)
    assert pad(Rect(2, 2, 4, 4), 3, Rect(0, 0, 100, 100)) == Rect(0, 0, 9, 9)


@pytest.mark.parametrize(("a", "b", "overlap", "touch"), [
    (Rect(0, 0, 10, 10), Rect(5, 5, 10, 10), True, True),
    (Rect(0, 0, 10, 10), Rect(10, 0, 5, 5), False, True),  # shares the edge x = 10
    (Rect(0, 0, 10, 10), Rect(0, 10, 5, 5), False, True),
    (Rect(0, 0, 10, 10), Rect(11, 0, 5, 5), False, False),
])
def test_overlaps_and_touches(a: Rect, b: Rect, overlap: bool, touch: bool) -> None:
    assert overlaps(a, b) is overlap and overlaps(b, a) is overlap
    assert touches(a, b) is touch and touches(b, a) is touch


def test_inside_and_subtract() -> None:
    assert inside(Rect(2, 2, 3, 3), Rect(0, 0, 10, 10))
    assert not inside(Rect(8, 8, 3, 3), Rect(0, 0, 10, 10))
    assert subtract(Rect(0, 0, 10, 10), Rect(20, 20, 1, 1)) == [Rect(0, 0, 10, 10)]
    parts = subtract(Rect(0, 0, 10, 10), Rect(0, 0, 10, 4))
    assert parts == [Rect(0, 4, 10, 6)]
    assert sum(r.width * r.height for r in subtract(Rect(0, 0, 10, 10), Rect(3, 3, 4, 4))) == 100 - 16


def test_merge_folds_into_the_first_kept_rect_met_and_says_so() -> None:
    rects = [Rect(0, 0, 10, 10), Rect(20, 0, 10, 10), Rect(5, 5, 20, 2)]
    out, folded = merge(rects, overlaps)
    assert folded and out == [Rect(0, 0, 25, 10), Rect(20, 0, 10, 10)]
    assert merge(out, overlaps) == ([Rect(0, 0, 30, 10)], True)
    assert merge([Rect(0, 0, 1, 1), Rect(5, 5, 1, 1)], overlaps) == ([Rect(0, 0, 1, 1), Rect(5, 5, 1, 1)], False)


@pytest.mark.parametrize(("rects", "want"), [
    ([], []),
    ([Rect(-5, -5, 10, 10)], [Rect(0, 0, 5, 5)]),  # clipped to the screen
    ([Rect(200, 0, 10, 10), Rect(0, 100, 5, 5)], []),  # wholly off screen
    ([Rect(0, 0, 10, 10), Rect(10, 0, 10, 10)], [Rect(0, 0, 20, 10)]),  # touching merge
    ([Rect(0, 0, 10, 10), Rect(11, 0, 10, 10)], [Rect(0, 0, 10, 10), Rect(11, 0, 10, 10)]),
    ([Rect(50, 50, 5, 5), Rect(0, 0, 5, 5)], [Rect(0, 0, 5, 5), Rect(50, 50, 5, 5)]),  # top to bottom
])
def test_clip_merge(rects: list[Rect], want: list[Rect]) -> None:
    assert clip_merge(rects, 100, 100) == want


def test_clip_merge_collapses_many_scattered_boxes_into_one() -> None:
    scattered = [Rect(10 * i, 10 * i, 2, 2) for i in range(9)]
    assert clip_merge(scattered, 100, 100) == [Rect(0, 0, 82, 82)]
    assert len(clip_merge(scattered[:8], 100, 100)) == 8
    assert len(clip_merge(scattered[:3], 100, 100, most=2)) == 1
