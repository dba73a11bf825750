"""Screenshots for a build: keyframe + crops replayed in order, one canvas kept per session."""

from __future__ import annotations

import io

from PIL import Image

from deskscribe.capture.screen import rebuild
from deskscribe.store import SessionReader

PNG_LEVEL = 1  # lossless either way; level 6 made bench/build.py exports 1.7x slower


class FrameSource:
    """Builds walk frames forward, so each delta is applied once instead of once per step."""

    def __init__(self, *, reader: SessionReader) -> None:
        self._reader = reader
        self._id: int | None = None
        self._base: int | None = None
        self._canvas: Image.Image | None = None
        self._png: tuple[int, bytes] | None = None

    def image(self, frame_id: int) -> Image.Image:
        record = self._reader.frame_record(frame_id)
        base = record.frame_id if record.base is None else record.base
        if self._canvas is None or self._id is None or base != self._base or frame_id < self._id:
            self._canvas = rebuild(self._reader.frame_chain(frame_id))
        else:  # same chain, later frame: apply only the records not applied yet
            for rec in self._reader.frames_between(base, self._id, frame_id):
                for part in rec.parts:
                    self._canvas.paste(Image.open(io.BytesIO(part.png)).convert("RGB"), (part.x, part.y))
        self._id, self._base = frame_id, base
        return self._canvas.copy()

    def png(self, frame_id: int) -> bytes:
        """PNG bytes of a frame; consecutive steps often share one, so the last is reused."""
        if self._png is not None and self._png[0] == frame_id:
            return self._png[1]
        buf = io.BytesIO()
        self.image(frame_id).save(buf, format="PNG", compress_level=PNG_LEVEL)
        self._png = (frame_id, buf.getvalue())
        return self._png[1]
