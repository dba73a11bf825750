"""Frames wait here, in memory, until they are redacted; only then are they encoded and stored.

OCR is slower than capture in bursts (a scrolled page is read whole), so frames queue. The
queue is bounded: when it is full the oldest waiting frame is dropped, never written raw, and
the session keeps its frame event so a build knows that step has no screenshot.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from deskscribe.capture.base import Rect
from deskscribe.frame_codec import FrameEncoder, FrameRecord
from deskscribe.redact.prompt import is_secret_prompt

QUEUE_FRAMES = 6


class Redactor(Protocol):
    def redact(self, pixels: np.ndarray, windows: Sequence[Rect] = ()) -> np.ndarray: ...
    def add_known(self, values: Iterable[str]) -> None: ...
    def last_line(self, pixels: np.ndarray, window: Rect) -> str: ...

    @property
    def ocr_pixels(self) -> int:
        """Pixels OCR has read so far: none where a context source described every frame."""
        ...


class NoFrames:
    """For policies with ``frames = false``: any frame reaching it is a bug, never stored."""

    def redact(self, pixels: np.ndarray, windows: Sequence[Rect] = ()) -> np.ndarray:
        raise RuntimeError("this policy stores no screenshots")

    def add_known(self, values: Iterable[str]) -> None:
        pass

    def last_line(self, pixels: np.ndarray, window: Rect) -> str:
        return ""

    @property
    def ocr_pixels(self) -> int:
        return 0


class FrameSink(Protocol):
    def add_frame(self, record: FrameRecord) -> None: ...


class FrameStage:
    def __init__(self, *, redactor: Redactor, sink: FrameSink, limit: int = QUEUE_FRAMES) -> None:
        self._redactor = redactor
        self._sink = sink
        self._limit = limit
        self._encoder = FrameEncoder()
        self._queue: deque[tuple[Any, ...]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._busy = False
        self.dropped = 0
        self.stored = 0
        self.error: str | None = None
        # frame id -> is the last line of the asked window a password prompt (None: no answer)
        self._prompts: dict[int, bool | None] = {}
        self._thread = threading.Thread(target=self._run, name="deskscribe-redact", daemon=True)
        self._thread.start()

    @property
    def ocr_pixels(self) -> int:
        return self._redactor.ocr_pixels

    @property
    def waiting(self) -> int:
        return sum(1 for item in self._queue if item[0] == "frame")

    def submit(self, frame_id: int, t_ns: int, pixels: np.ndarray, windows: Sequence[Rect] = (),
               prompt_window: Rect | None = None) -> None:
        """``prompt_window``: also read that window's last text line, for :meth:`prompt_shown`."""
        with self._cond:
            if self.waiting >= self._limit:
                # The oldest frame goes, one nobody waits on for a prompt answer if there is one.
                frames = [i for i, item in enumerate(self._queue) if item[0] == "frame"]
                oldest = next((i for i in frames if self._queue[i][5] is None), frames[0])
                if self._queue[oldest][5] is not None:
                    self._answer(self._queue[oldest][1], None)
                del self._queue[oldest]
                self.dropped += 1
            self._queue.append(("frame", frame_id, t_ns, pixels, tuple(windows), prompt_window))
            self._cond.notify()

    def prompt_shown(self, frame_id: int, timeout_s: float) -> bool | None:
        """Whether frame ``frame_id`` showed a password prompt as its window's last line; None
        when the answer did not come in time or the frame was dropped: the caller fails closed."""
        with self._cond:
            self._cond.wait_for(lambda: frame_id in self._prompts, timeout=timeout_s)
            return self._prompts.pop(frame_id, None)

    def _answer(self, frame_id: int, shown: bool | None) -> None:
        while len(self._prompts) >= 64:  # answers nobody asked for: the oldest go
            del self._prompts[next(iter(self._prompts))]
        self._prompts[frame_id] = shown

    def add_known(self, values: Iterable[str]) -> None:
        """Queued in order, so every frame captured after a value was typed is checked for it."""
        with self._cond:
            self._queue.append(("known", tuple(values)))
            self._cond.notify()

    def drain(self) -> None:
        """Block until every submitted frame is stored or dropped."""
        with self._cond:
            self._cond.wait_for(lambda: not self._queue and not self._busy)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                self._handle(item)
            except Exception as exc:  # a broken OCR stops frames; raw pixels are never stored
                self.error = f"screenshot redaction failed ({exc}); frames are no longer stored"
                with self._cond:
                    self.dropped += self.waiting
                    for frame in (i for i in (item, *self._queue) if i[0] == "frame" and i[5] is not None):
                        self._answer(frame[1], None)
                    self._queue.clear()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _handle(self, item: tuple[Any, ...]) -> None:
        if item[0] == "known":
            self._redactor.add_known(item[1])
            return
        if self.error is not None:
            with self._cond:
                self.dropped += 1
                if item[5] is not None:
                    self._answer(item[1], None)
            return
        _, frame_id, t_ns, pixels, windows, prompt_window = item
        if prompt_window is not None:  # answered first: a burst may be waiting for it
            shown = is_secret_prompt(self._redactor.last_line(pixels, prompt_window))
            with self._cond:
                self._answer(frame_id, shown)
                self._cond.notify_all()
        clean = self._redactor.redact(pixels, windows)
        self._sink.add_frame(self._encoder.encode(frame_id, t_ns, clean))
        self.stored += 1
