"""Screenshots for the pages: full PNGs and small thumbnails, rebuilt from the encrypted
store on request and cached in memory only (nothing decrypted is written to disk).

A session file's version (size and modification time) is part of every key, so a rewrite in
review (a deleted step, a blacked-out area) is never served from the old pixels.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

from PIL import Image

from deskscribe.frame_codec import EXPORT_PNG_LEVEL, FrameSource, image_png
from deskscribe.store import SessionReader

THUMB_WIDTH = 160
THUMB_QUALITY = 70
KEEP = {"thumb": 4000, "full": 48}  # a thumbnail is a few kB, a full screenshot a few hundred

Key = tuple[str, str, int, str]  # session, version, frame id, "full" | "thumb"


def thumbnail(image: Image.Image, width: int = THUMB_WIDTH) -> bytes:
    """A small WebP: a 1280x800 screen is a few kB instead of a few hundred."""
    height = max(1, round(image.height * width / image.width))
    small = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="WEBP", quality=THUMB_QUALITY, method=4)
    return buf.getvalue()


class Screenshots:
    """One reader and frame source per session, kept while pages ask for its frames in turn,
    so walking a strip forwards applies each delta once."""

    def __init__(self, *, open_session: Callable[[str], SessionReader],
                 version: Callable[[str], str], keep: dict[str, int] | None = None) -> None:
        self._open = open_session
        self._version = version
        self._keep = dict(KEEP if keep is None else keep)
        self._cache: dict[str, OrderedDict[Key, bytes]] = {kind: OrderedDict() for kind in self._keep}
        self._lock = threading.Lock()
        self._sources: dict[tuple[str, str], tuple[SessionReader, FrameSource]] = {}

    def png(self, session_id: str, frame_id: int) -> bytes:
        return self._get(session_id, frame_id, "full")

    def thumb(self, session_id: str, frame_id: int) -> bytes:
        return self._get(session_id, frame_id, "thumb")

    def _get(self, session_id: str, frame_id: int, kind: str) -> bytes:
        version = self._version(session_id)
        key = (session_id, version, frame_id, kind)
        cache = self._cache[kind]
        with self._lock:
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
                return hit
            image = self._source(session_id, version).image(frame_id)
            data = image_png(image, level=EXPORT_PNG_LEVEL) if kind == "full" else thumbnail(image)
            cache[key] = data
            while len(cache) > self._keep[kind]:
                cache.popitem(last=False)
            return data

    def _source(self, session_id: str, version: str) -> FrameSource:
        held = self._sources.get((session_id, version))
        if held is None:
            self._forget(session_id)
            reader = self._open(session_id)
            held = (reader, FrameSource(reader=reader))
            self._sources[(session_id, version)] = held
        return held[1]

    def _forget(self, session_id: str) -> None:
        for key in [k for k in self._sources if k[0] == session_id]:
            self._sources.pop(key)[0].close()

    def forget(self, session_id: str) -> None:
        """Close the session's reader before it is rewritten or deleted."""
        with self._lock:
            self._forget(session_id)

    def close(self) -> None:
        with self._lock:
            for reader, _ in self._sources.values():
                reader.close()
            self._sources.clear()
            for cache in self._cache.values():
                cache.clear()
