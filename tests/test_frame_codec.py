"""Stored screenshots: keyframes, changed-region crops, their bytes and their replay."""

import numpy as np
import pytest

from deskscribe.frame_codec import (
    FrameEncoder,
    FramePart,
    FrameRecord,
    FrameSource,
    rebuild,
    to_image,
    whole_frame,
)
from deskscribe.pixel_diff import changed_rects


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


def test_record_bytes_keep_the_layout_sessions_on_disk_use() -> None:
    rec = FrameRecord(7, 123, 5, (2, 1), (FramePart(0, 0, 2, 1, b"abc"), FramePart(1, 0, 1, 1, b"de")))
    head = b'{"size": [2, 1], "parts": [[0, 0, 2, 1, 3], [1, 0, 1, 1, 2]]}'
    assert rec.encode() == len(head).to_bytes(4, "little") + head + b"abcde"
    assert FrameRecord.decode(7, 123, 5, rec.encode()) == rec
    assert rec.chain == 5 and FrameRecord(5, 0, None, (1, 1), ()).chain == 5


def test_a_large_change_starts_a_new_keyframe() -> None:
    enc = FrameEncoder()
    first = enc.encode(1, 0, np.zeros((64, 64, 3), np.uint8))
    second = enc.encode(2, 1, np.full((64, 64, 3), 9, np.uint8))
    assert first.base is None and second.base is None and second.chain == 2


class ChainReader:
    """Records by id, read the way a session reader offers them; counts what is read."""

    def __init__(self, records: list[FrameRecord]) -> None:
        self.records = {r.frame_id: r for r in records}
        self.chains = 0

    def frame_record(self, frame_id: int) -> FrameRecord:
        return self.records[frame_id]

    def frame_chain(self, frame_id: int) -> list[FrameRecord]:
        self.chains += 1
        base = self.records[frame_id].chain
        return self.frames_between(base, base - 1, frame_id)

    def frames_between(self, base: int, after_id: int, upto_id: int) -> list[FrameRecord]:
        return [r for i, r in sorted(self.records.items()) if r.chain == base and after_id < i <= upto_id]


def test_frame_source_walks_a_chain_forward_and_rebuilds_only_when_it_must() -> None:
    rng = np.random.default_rng(4)
    enc = FrameEncoder()
    frames, records = [], []
    cur = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    for i in range(5):
        cur = cur.copy()
        cur[i * 8:i * 8 + 4, i * 8:i * 8 + 4] = 255 - cur[i * 8:i * 8 + 4, i * 8:i * 8 + 4]
        frames.append(cur)
        records.append(enc.encode(i + 1, i, cur))
    reader = ChainReader(records)
    source = FrameSource(reader=reader)
    for frame_id in (1, 2, 4, 5):
        assert np.array_equal(np.asarray(source.image(frame_id)), frames[frame_id - 1])
    assert reader.chains == 1  # forward within one chain: deltas applied, never rebuilt
    assert np.array_equal(np.asarray(source.image(3)), frames[2]) and reader.chains == 2
    assert source.png(3) is source.png(3)  # the same step's screenshot is encoded once


def test_a_whole_frame_rebuilds_to_the_image_it_was_made_from() -> None:
    pixels = np.random.default_rng(5).integers(0, 255, (10, 12, 3), dtype=np.uint8)
    rec = whole_frame(9, 77, to_image(pixels))
    assert rec.base is None and rec.size == (12, 10) and len(rec.parts) == 1
    assert np.array_equal(np.asarray(rebuild([rec])), pixels)


def test_an_empty_chain_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty frame chain"):
        rebuild([])
