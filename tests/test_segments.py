"""Files sealed in AEAD segments (STREAM): round trips at every boundary, and every way of cutting,
reordering, extending or flipping a sealed file is caught."""

import os
from pathlib import Path

import pytest

from deskscribe.errors import DataKeyError
from deskscribe.segments import (
    HEADER_BYTES,
    TAG_BYTES,
    SegmentOpener,
    is_sealed_in_segments,
    open_chunks,
    seal_chunks,
    seal_file,
)

KEY = b"k" * 32
SEG = 64


def seal(plain: bytes, *, pieces: int = 7, context: str = "dataset/a/file/x") -> bytes:
    chunks = [plain[i:i + pieces] for i in range(0, len(plain), pieces)]
    return b"".join(seal_chunks(chunks, key=KEY, context=context, segment_bytes=SEG))


def unseal(sealed: bytes, *, pieces: int = 5, context: str = "dataset/a/file/x") -> bytes:
    return b"".join(open_chunks([sealed[i:i + pieces] for i in range(0, len(sealed), pieces)],
                                key=KEY, context=context))


def segments_of(sealed: bytes) -> tuple[bytes, list[bytes]]:
    body, size = sealed[HEADER_BYTES:], SEG + TAG_BYTES
    return sealed[:HEADER_BYTES], [body[i:i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("n", [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG + 17])
def test_round_trip_across_segment_boundaries(n: int) -> None:
    plain = os.urandom(n)
    sealed = seal(plain)
    segments = max(1, -(-n // SEG))
    assert len(sealed) == HEADER_BYTES + n + segments * TAG_BYTES
    assert unseal(sealed) == plain
    assert unseal(sealed, pieces=len(sealed) or 1) == plain  # fed whole, as well as in pieces
    assert len(plain) < 16 or plain not in sealed  # a short run of bytes may occur by chance


def test_every_file_gets_its_own_salt_and_nonces() -> None:
    assert seal(b"same") != seal(b"same")


@pytest.mark.parametrize("n", [SEG, 2 * SEG, 3 * SEG + 5])
def test_truncation_at_a_segment_boundary_is_detected(n: int) -> None:
    sealed = seal(os.urandom(n))
    header, segs = segments_of(sealed)
    for keep in range(1, len(segs)):
        with pytest.raises(DataKeyError, match="segment"):
            unseal(header + b"".join(segs[:keep]))
    with pytest.raises(DataKeyError, match="truncated"):
        unseal(header)
    with pytest.raises(DataKeyError, match="truncated"):
        unseal(header[:10])


def test_a_file_cut_inside_a_segment_is_detected() -> None:
    sealed = seal(os.urandom(3 * SEG))
    for cut in (HEADER_BYTES + 1, HEADER_BYTES + SEG + TAG_BYTES + 3, len(sealed) - 1):
        with pytest.raises(DataKeyError):
            unseal(sealed[:cut])


def test_reordered_and_duplicated_segments_are_detected() -> None:
    header, segs = segments_of(seal(os.urandom(3 * SEG + 9)))
    for order in ([1, 0, 2, 3], [0, 2, 1, 3], [0, 0, 1, 2, 3], [0, 1, 2, 2, 3], [0, 1, 2, 3, 3], [3]):
        with pytest.raises(DataKeyError):
            unseal(header + b"".join(segs[i] for i in order))


def test_a_segment_from_another_file_under_the_same_key_is_detected() -> None:
    header, segs = segments_of(seal(os.urandom(2 * SEG)))
    _, other = segments_of(seal(os.urandom(2 * SEG)))
    with pytest.raises(DataKeyError):
        unseal(header + segs[0] + other[1])


def test_every_flipped_bit_is_detected() -> None:
    sealed = seal(os.urandom(2 * SEG + 3))
    for at in range(len(sealed)):
        bad = bytearray(sealed)
        bad[at] ^= 1 << (at % 8)
        with pytest.raises(DataKeyError):
            unseal(bytes(bad))


@pytest.mark.parametrize("n", [0, SEG - 3, SEG, 2 * SEG])
@pytest.mark.parametrize("extra", [b"\x00", os.urandom(TAG_BYTES), os.urandom(SEG + TAG_BYTES)])
def test_appended_data_is_detected(n: int, extra: bytes) -> None:
    sealed = seal(os.urandom(n))
    with pytest.raises(DataKeyError):
        unseal(sealed + extra)


def test_a_final_segment_sealed_again_as_a_middle_one_is_detected() -> None:
    """Extension by a segment the attacker sealed is impossible without the key; a valid file's
    segments from another (longer) file cannot be spliced in to extend it either."""
    long = seal(b"a" * (2 * SEG))
    header, segs = segments_of(long)
    with pytest.raises(DataKeyError):
        unseal(header + segs[0])


def test_the_wrong_key_or_context_is_detected() -> None:
    sealed = seal(b"hello")
    with pytest.raises(DataKeyError, match="key is wrong"):
        unseal(sealed, context="dataset/a/file/y")
    with pytest.raises(DataKeyError):
        b"".join(open_chunks([sealed], key=b"o" * 32, context="dataset/a/file/x"))


def test_something_else_than_a_sealed_file_is_named_as_such() -> None:
    with pytest.raises(DataKeyError, match="wrong header"):
        SegmentOpener(key=KEY, context="c").feed(b"PK\x03\x04 a zip file")


def test_a_file_is_sealed_and_opened_from_disk_to_disk(tmp_path: Path) -> None:
    plain = os.urandom(5 * SEG + 1)
    (tmp_path / "plain").write_bytes(plain)
    written = seal_file(tmp_path / "plain", tmp_path / "sealed", key=KEY, context="c", segment_bytes=SEG)
    assert written == (tmp_path / "sealed").stat().st_size == HEADER_BYTES + len(plain) + 6 * TAG_BYTES
    assert is_sealed_in_segments(tmp_path / "sealed") and not is_sealed_in_segments(tmp_path / "plain")
    with open(tmp_path / "sealed", "rb") as fh:
        assert b"".join(open_chunks(iter(lambda: fh.read(100), b""), key=KEY, context="c")) == plain


def test_a_segment_size_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="segment_bytes"):
        list(seal_chunks([b"x"], key=KEY, context="c", segment_bytes=0))
