import numpy as np
import pytest

from deskscribe.capture.base import Layout, Rect
from deskscribe.capture.screen import FrameEncoder, ScreenModel, changed_rects, rebuild


def test_layout_keeps_only_pixels_whose_topmost_window_is_designated() -> None:
    layout = Layout(100, 80, (
        (Rect(0, 0, 60, 60), True),     # designated, bottom
        (Rect(40, 20, 40, 40), False),  # other app above it
        (Rect(70, 50, 20, 20), True),   # designated above that
    ))
    m = layout.mask()
    assert m[10, 10] and not m[30, 50] and m[55, 75] and not m[75, 95]
    assert layout.designated_at(10, 10) and not layout.designated_at(50, 30)
    assert not layout.designated_at(99, 79)  # bare desktop
    # 60x60 designated, minus its 20x40 overlap with the other app, plus the 20x20 on top
    assert m.sum() == 60 * 60 - 20 * 40 + 20 * 20


def test_layout_clips_windows_partly_off_screen() -> None:
    layout = Layout(50, 50, ((Rect(-10, -10, 30, 30), True),))
    assert layout.mask().sum() == 20 * 20


def test_patch_blacks_out_pixels_outside_the_mask() -> None:
    model = ScreenModel(width=4, height=2)
    rgb = np.full((2, 4, 4), 200, np.uint8)
    keep = np.array([[True, True, False, False]] * 2)
    model.patch(0, 0, rgb, keep, server_ms=10)
    pixels, _ = model.snapshot(None)
    assert pixels[:, :2].min() == 200 and pixels[:, 2:].max() == 0


def test_snapshot_rolls_back_reads_taken_at_or_after_the_action() -> None:
    model = ScreenModel(width=2, height=1)
    keep = np.ones((1, 2), bool)
    model.patch(0, 0, np.full((1, 2, 4), 1, np.uint8), keep, server_ms=100)
    model.patch(0, 0, np.full((1, 2, 4), 2, np.uint8), keep, server_ms=200)
    model.patch(1, 0, np.full((1, 1, 4), 3, np.uint8), keep[:, :1], server_ms=300)
    assert model.snapshot(before_ms=250)[0].tolist() == [[[2] * 4, [2] * 4]]
    assert model.snapshot(before_ms=200)[0].tolist() == [[[1] * 4, [1] * 4]]
    assert model.snapshot(before_ms=None)[0].tolist() == [[[2] * 4, [3] * 4]]


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


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_keyframe_plus_crops_rebuilds_every_frame_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    enc = FrameEncoder()
    frames, records = [], []
    cur = rng.integers(0, 255, (256, 320, 3), dtype=np.uint8)
    for i in range(6):
        cur = cur.copy()
        y, x = rng.integers(0, 240), rng.integers(0, 300)
        cur[y:y + 10, x:x + 12] = rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)
        frames.append(cur)
        records.append(enc.encode(i + 1, i, cur))
    assert records[0].base is None and all(r.base == 1 for r in records[1:])
    assert sum(len(r.parts) for r in records[1:]) >= 5  # crops, not full frames
    for i, frame in enumerate(frames):
        rebuilt = np.asarray(rebuild(records[: i + 1]))
        assert np.array_equal(rebuilt, frame)


def test_bgra_model_pixels_encode_as_rgb() -> None:
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[0, 0] = (10, 20, 30, 255)  # B, G, R, A
    rec = FrameEncoder().encode(1, 0, bgra)
    assert np.asarray(rebuild([rec]))[0, 0].tolist() == [30, 20, 10]
    prev = bgra.copy()
    bgra[1, 1, 2] = 99
    assert [(r.x, r.y) for r in changed_rects(prev, bgra, tile=1)] == [(1, 1)]


def test_keyframe_stores_only_the_content_box_and_rebuilds_exactly() -> None:
    frame = np.zeros((200, 300, 4), np.uint8)
    frame[50:90, 100:180, :3] = 77
    rec = FrameEncoder().encode(1, 0, frame)
    assert [(p.x, p.y, p.width, p.height) for p in rec.parts] == [(100, 50, 80, 40)]
    rebuilt = np.asarray(rebuild([rec]))
    assert rebuilt.shape == (200, 300, 3) and rebuilt[50:90, 100:180].min() == 77
    assert rebuilt.sum() == 77 * 3 * 80 * 40
    black = FrameEncoder().encode(1, 0, np.zeros((10, 10, 4), np.uint8))
    assert black.parts == () and np.asarray(rebuild([black])).max() == 0


def test_designated_windows_are_read_in_the_parts_nothing_covers() -> None:
    from deskscribe.capture.base import Layout, Rect

    editor, popup = Rect(0, 0, 400, 300), Rect(300, 50, 200, 100)
    layout = Layout(800, 600, ((editor, True), (popup, False)))
    parts = layout.visible_kept
    assert sum(p.width * p.height for p in parts) == 400 * 300 - 100 * 100
    assert Rect(0, 50, 300, 100) in parts  # the text left of the popup ends at its edge
    assert not any(p.contains(350, 100) for p in parts)
    assert Layout(800, 600, ((editor, True),)).visible_kept == (editor,)
