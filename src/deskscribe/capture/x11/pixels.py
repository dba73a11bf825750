"""Reading screen pixels, by the cheaper of two paths for each box's size."""

from __future__ import annotations

import mss
import numpy as np
from Xlib import X, display
from Xlib.xobject.drawable import Window

from deskscribe.capture.base import Rect

BIG_READ_PIXELS = 256 * 256


class PixelReader:
    """GetImage on the watching connection for small boxes, mss for large ones.

    GetImage's reply is an ordering barrier: every layout event the server generated before
    the read is queued on the same connection before the reply arrives. mss reads large areas
    4x faster but on its own connection, so after using it one round trip restores the barrier.
    """

    def __init__(self, *, disp: display.Display, root: Window, sct: mss.MSS) -> None:
        self._disp = disp
        self._root = root
        self._sct = sct

    def read(self, boxes: list[Rect]) -> list[tuple[Rect, np.ndarray]]:
        """Each box with its BGRA pixels, once every earlier layout event is queued."""
        shots = []
        for r in boxes:
            if r.width * r.height > BIG_READ_PIXELS:
                data = self._sct.grab({"left": r.x, "top": r.y, "width": r.width, "height": r.height}).bgra
            else:
                data = self._root.get_image(r.x, r.y, r.width, r.height, X.ZPixmap, 0xFFFFFFFF).data
            shots.append((r, np.frombuffer(data, np.uint8).reshape(r.height, r.width, 4)))
        if any(r.width * r.height > BIG_READ_PIXELS for r in boxes):
            self._disp.sync()
        return shots
