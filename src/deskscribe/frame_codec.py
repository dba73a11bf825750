"""How screenshots are stored: a keyframe, then lossless crops of what changed since the last.

A record's bytes are a little-endian u32 header length, a JSON header (size and each part's
box and PNG length) and the PNGs back to back. Sessions already on disk are read with exactly
this layout, so it changes only with a migration. Reading runs the other way: a keyframe chain
is replayed in order onto one canvas.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from deskscribe.geometry import Rect
from deskscribe.pixel_diff import changed_rects, content_box

KEYFRAME_CHANGED_SHARE = 0.5
KEYFRAME_EVERY = 200
CAPTURE_PNG_LEVEL = 1  # crops are encoded on the capture path, where time is short
EXPORT_PNG_LEVEL = 1  # lossless either way; level 6 made bench/build.py exports 1.7x slower
WHOLE_PNG_LEVEL = 6  # written once, off the capture path: smaller beats faster


@dataclass(frozen=True, slots=True)
class FramePart:
    x: int
    y: int
    width: int
    height: int
    png: bytes


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """A stored screenshot: a keyframe (``base is None``) or changed-region crops on top of
    the previous frame of the same keyframe chain."""

    frame_id: int
    t_ns: int
    base: int | None
    size: tuple[int, int]
    parts: tuple[FramePart, ...]

    @property
    def chain(self) -> int:
        """The keyframe this record belongs to."""
        return self.frame_id if self.base is None else self.base

    def encode(self) -> bytes:
        head = json.dumps({"size": self.size, "parts": [
            [p.x, p.y, p.width, p.height, len(p.png)] for p in self.parts]}).encode()
        return struct.pack("<I", len(head)) + head + b"".join(p.png for p in self.parts)

    @classmethod
    def decode(cls, frame_id: int, t_ns: int, base: int | None, raw: bytes) -> FrameRecord:
        (n,) = struct.unpack_from("<I", raw)
        head = json.loads(raw[4:4 + n])
        pos, parts = 4 + n, []
        for x, y, w, h, length in head["parts"]:
            parts.append(FramePart(x, y, w, h, raw[pos:pos + length]))
            pos += length
        return cls(frame_id, t_ns, base, tuple(head["size"]), tuple(parts))


def to_image(pixels: np.ndarray) -> Image.Image:
    """A BGRA (screen model) or RGB array as an RGB image."""
    h, w = pixels.shape[:2]
    if pixels.shape[2] == 4:
        return Image.frombuffer("RGB", (w, h), np.ascontiguousarray(pixels).tobytes(), "raw", "BGRX", 0, 1)
    return Image.fromarray(pixels, "RGB")


def image_png(image: Image.Image, *, level: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=level)
    return buf.getvalue()


def encode_png(pixels: np.ndarray) -> bytes:
    return image_png(to_image(pixels), level=CAPTURE_PNG_LEVEL)


def whole_frame(frame_id: int, t_ns: int, image: Image.Image) -> FrameRecord:
    """A keyframe of a rebuilt screenshot, for when the chain it was a delta of is cut."""
    part = FramePart(0, 0, image.width, image.height, image_png(image, level=WHOLE_PNG_LEVEL))
    return FrameRecord(frame_id, t_ns, None, image.size, (part,))


def blacked_out(image: Image.Image, boxes: Iterable[Rect]) -> Image.Image:
    """A copy with ``boxes`` black: what review removes from a screenshot."""
    out = image.copy()
    for box in boxes:
        if box.width > 0 and box.height > 0:
            out.paste((0, 0, 0), (box.x, box.y, box.x + box.width, box.y + box.height))
    return out


class FrameEncoder:
    """Keyframe first, then lossless crops of what changed since the previous stored frame."""

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None
        self._keyframe_id: int | None = None
        self._since_key = 0

    def encode(self, frame_id: int, t_ns: int, pixels: np.ndarray) -> FrameRecord:
        h, w = pixels.shape[:2]
        rects = None if self._prev is None or self._prev.shape != pixels.shape else changed_rects(
            self._prev, pixels)
        changed = sum(r.width * r.height for r in rects) if rects is not None else h * w
        self._prev = pixels
        if (rects is None or self._keyframe_id is None or changed > KEYFRAME_CHANGED_SHARE * h * w
                or self._since_key >= KEYFRAME_EVERY):
            self._keyframe_id, self._since_key = frame_id, 0
            box = content_box(pixels)  # a keyframe is black except where it has content
            parts = () if box is None else (_crop(pixels, box),)
            return FrameRecord(frame_id, t_ns, None, (w, h), parts)
        self._since_key += 1
        return FrameRecord(frame_id, t_ns, self._keyframe_id, (w, h), tuple(_crop(pixels, r) for r in rects))


def _crop(pixels: np.ndarray, r: Rect) -> FramePart:
    return FramePart(r.x, r.y, r.width, r.height, encode_png(pixels[r.y:r.y + r.height, r.x:r.x + r.width]))


def _apply(canvas: Image.Image, record: FrameRecord) -> None:
    for part in record.parts:
        canvas.paste(Image.open(io.BytesIO(part.png)).convert("RGB"), (part.x, part.y))


def rebuild(chain: Iterable[FrameRecord]) -> Image.Image:
    """The screenshot a keyframe chain ends on."""
    canvas: Image.Image | None = None
    for rec in chain:
        if canvas is None:
            canvas = Image.new("RGB", rec.size)
        _apply(canvas, rec)
    if canvas is None:
        raise ValueError("empty frame chain")
    return canvas


class FrameReader(Protocol):
    """What a :class:`FrameSource` reads records from: a session reader, or a fake in a test."""

    def frame_record(self, frame_id: int) -> FrameRecord: ...

    def frame_chain(self, frame_id: int) -> list[FrameRecord]: ...

    def frames_between(self, base: int, after_id: int, upto_id: int) -> list[FrameRecord]: ...


class FrameSource:
    """Builds walk frames forward, so each delta is applied once instead of once per step."""

    def __init__(self, *, reader: FrameReader) -> None:
        self._reader = reader
        self._id: int | None = None
        self._base: int | None = None
        self._canvas: Image.Image | None = None
        self._png: tuple[int, bytes] | None = None

    def image(self, frame_id: int) -> Image.Image:
        base = self._reader.frame_record(frame_id).chain
        if self._canvas is None or self._id is None or base != self._base or frame_id < self._id:
            self._canvas = rebuild(self._reader.frame_chain(frame_id))
        else:  # same chain, later frame: apply only the records not applied yet
            for rec in self._reader.frames_between(base, self._id, frame_id):
                _apply(self._canvas, rec)
        self._id, self._base = frame_id, base
        return self._canvas.copy()

    def png(self, frame_id: int) -> bytes:
        """PNG bytes of a frame; consecutive steps often share one, so the last is reused."""
        if self._png is None or self._png[0] != frame_id:
            self._png = (frame_id, image_png(self.image(frame_id), level=EXPORT_PNG_LEVEL))
        return self._png[1]
