"""Taking a frame: the screen model's pixels, masked to the visible designated windows, handed
to the redaction stage; the store receives it only once it is redacted."""

from __future__ import annotations

from collections.abc import Callable

from deskscribe import events as ev
from deskscribe.capture.base import Leaf, Rect
from deskscribe.geometry import union
from deskscribe.pipeline.contexts import Contexts
from deskscribe.pipeline.frame_schedule import FrameScheduler
from deskscribe.pipeline.gate import Gate
from deskscribe.pipeline.page_boxes import apply_texts, uncovered
from deskscribe.redact.stage import FrameStage
from deskscribe.store import SessionWriter


class Framer:
    def __init__(self, *, leaf: Leaf, writer: SessionWriter, stage: FrameStage, gate: Gate,
                 schedule: FrameScheduler, contexts: Contexts, enabled: bool,
                 emit: Callable[[ev.Event], None], t0_ns: int = 0) -> None:
        self._contexts = contexts
        self._t0 = t0_ns
        self._leaf = leaf
        self._writer = writer
        self._stage = stage
        self._gate = gate
        self._schedule = schedule
        self._enabled = enabled
        self._emit = emit
        self.paused = False  # low disk: events go on, screenshots wait
        self.taken = 0
        self.unanswered = 0  # frames dropped because a context source could not describe them
        self.described = 0  # frames a context source described, at least in part

    def take(self, t: int, reason: str, before_ms: int | None, *, only_if_changed: bool = False,
             prompt_window: Rect | None = None) -> int | None:
        """The frame id, or None when no frame may or need be taken now."""
        self._schedule.taken(t)
        if not self._enabled or self.paused or not self._gate.capturing:
            return None
        layout = self._leaf.layout
        if not layout.any_kept or not self._read_by(before_ms):
            return None
        pixels, version = self._leaf.screen.snapshot(before_ms)
        if not self._schedule.changed(version) and only_if_changed:
            return None
        answered, texts = self._contexts.frame_text(self._gate.window, t + self._t0)
        if not answered:  # the page did not describe itself in time: no frame rather than a guess
            self.unanswered += 1
            return None
        kept = layout.visible_kept
        read = kept
        if texts:
            assert self._gate.window is not None  # texts describe the focused window
            texts = uncovered(texts, layout.windows, Rect(*self._gate.window.geometry))
            pixels, read = apply_texts(pixels, kept, texts)
            self.described += 1
        frame_id = self._writer.reserve_frame_id()
        self._stage.submit(frame_id, t, pixels, read, prompt_window)  # stored only once redacted
        self.taken += 1
        box = union(kept)  # where designated pixels can be: the rest of the frame is black
        self._emit(ev.Event(t_ns=t, kind=ev.FRAME, data={
            "frame_id": frame_id, "reason": reason, "region": [box.x, box.y, box.width, box.height]}))
        return frame_id

    def _read_by(self, before_ms: int | None) -> bool:
        """Whether the model held every kept pixel at the frame's moment: right after a window or
        page is revealed its pixels are not read yet, and no frame beats a black one."""
        since = self._leaf.screen.whole_since_ms
        return since is not None and (before_ms is None or since < before_ms)
