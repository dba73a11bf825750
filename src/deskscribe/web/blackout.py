"""Which stored screenshots show what a contributor blacked out on one of them.

The contributor draws a box on one screenshot; what it covers is usually on screen for a
while (the keyframe and the frames after it, or earlier ones), so the box goes on every frame
of the same size whose pixels in that box are mostly those of the chosen frame: at least
``SAME_SHARE`` of them identical. That errs towards blacking out too much (a box over mostly
blank background matches more frames), never towards leaving the pixels behind. With
``everywhere`` the box goes on every frame of the session instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

from deskscribe.geometry import Rect, clip

SAME_SHARE = 0.5


def box_from_fractions(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Rect:
    """A drawn box (fractions of the image, any corner order) as whole pixels covering it."""
    left, right = sorted((min(max(x0, 0.0), 1.0), min(max(x1, 0.0), 1.0)))
    top, bottom = sorted((min(max(y0, 0.0), 1.0), min(max(y1, 0.0), 1.0)))
    px0, py0 = int(np.floor(left * width)), int(np.floor(top * height))
    px1, py1 = int(np.ceil(right * width)), int(np.ceil(bottom * height))
    return clip(Rect(px0, py0, px1 - px0, py1 - py0), width, height)


def region(image: Image.Image, box: Rect) -> np.ndarray:
    return np.asarray(image.convert("RGB").crop((box.x, box.y, box.x + box.width, box.y + box.height)))


def shows(chosen: np.ndarray, other: np.ndarray, share: float = SAME_SHARE) -> bool:
    """``other`` shows the chosen pixels when enough of them are exactly the same."""
    if chosen.shape != other.shape or chosen.size == 0:
        return False
    return float(np.all(chosen == other, axis=-1).mean()) >= share


def frames_showing(box: Rect, chosen: Image.Image, frames: Iterable[tuple[int, Image.Image]], *,
                   everywhere: bool = False) -> list[int]:
    """The ids of the frames the box goes on (the chosen one among them, when it is listed)."""
    if box.width <= 0 or box.height <= 0:
        return []
    wanted = region(chosen, box)
    return [frame_id for frame_id, image in frames
            if image.size == chosen.size and (everywhere or shows(wanted, region(image, box)))]
