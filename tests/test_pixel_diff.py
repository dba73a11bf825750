"""Changed regions and content boxes, which the encoder and the frame redactor both rely on."""

import numpy as np

from deskscribe.pixel_diff import changed_rects, content_box


def test_changed_rects_cover_every_change_and_little_else() -> None:
    prev = np.zeros((100, 130, 3), np.uint8)
    cur = prev.copy()
    cur[5, 5] = 1
    cur[70:90, 100:129] = 9
    rects = changed_rects(prev, cur, tile=16)
    covered = np.zeros((100, 130), bool)
    for r in rects:
        covered[r.y:r.y + r.height, r.x:r.x + r.width] = True
    assert covered[np.any(prev != cur, axis=2)].all()
    assert covered.sum() <= 16 * 16 + 32 * 48


def test_content_box_bounds_the_non_black_pixels_and_ignores_the_padding_byte() -> None:
    bgra = np.zeros((20, 30, 4), np.uint8)
    bgra[..., 3] = 255  # X fills the padding byte; it is not content
    assert content_box(bgra) is None
    bgra[4:9, 10:12, 1] = 5
    box = content_box(bgra)
    assert box is not None and (box.x, box.y, box.width, box.height) == (10, 4, 2, 5)
    rgb = np.zeros((3, 3, 3), np.uint8)
    rgb[2, 2, 0] = 1
    assert content_box(rgb) == content_box(np.pad(rgb, ((0, 0), (0, 0), (0, 1))))


def test_changes_in_one_column_of_tiles_merge_into_one_rect() -> None:
    prev = np.zeros((64, 64, 3), np.uint8)
    cur = prev.copy()
    cur[0:64, 0] = 1
    assert [(r.x, r.y, r.width, r.height) for r in changed_rects(prev, cur, tile=16)] == [(0, 0, 16, 64)]
    assert changed_rects(prev, prev.copy(), tile=16) == []


def test_changes_are_looked_for_only_inside_the_areas_asked_about() -> None:
    import numpy as np

    from deskscribe.geometry import Rect
    from deskscribe.pixel_diff import changed_rects, changed_within

    prev = np.zeros((120, 200, 4), dtype=np.uint8)
    cur = prev.copy()
    cur[10:14, 20:30] = 255  # inside the first area
    cur[100:104, 150:160] = 255  # outside every area
    inside = changed_within(prev, cur, [Rect(16, 0, 64, 64), Rect(0, 90, 100, 30)])
    assert len(inside) == 1
    r = inside[0]
    assert r.x <= 20 and r.y <= 10 and r.x + r.width >= 30 and r.y + r.height >= 14
    assert r.x >= 16 and r.x + r.width <= 80  # within its area, in screen coordinates
    assert changed_within(prev, cur, []) == changed_rects(prev, cur)  # no areas: the whole frame
    assert changed_within(prev, cur, [Rect(0, 0, 0, 0), Rect(500, 500, 10, 10)]) == []
