"""The live screen model: masked patches, and the screen as it was just before an action."""

import numpy as np

from deskscribe.capture.screen import ScreenModel


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
