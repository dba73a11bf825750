"""The recorder: a thread shell around the pipeline's stages.

Leaf callbacks only append to the bounded inbox; one pipeline thread takes each item and
passes it through the stages: the :class:`Gate` (is a designated window in front), the
:class:`InputMapper` (raw input -> event data), the typing guard (bursts held and scanned),
the :class:`FrameScheduler` (when a frame is due), the :class:`TitleCleaner` and the frame
stage (redaction before encoding). The stages do no I/O; this shell is the one place that
decides what each transition writes, so nothing from a non-designated window is ever handed
to the store and the store only ever sees the cleaned result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deskscribe import events as ev
from deskscribe.capture.base import KEY_PRESS, Leaf, RawInput, WindowInfo
from deskscribe.capture.hotkey import Hotkey
from deskscribe.context import ContextSource
from deskscribe.pipeline.bursts import TypingStage
from deskscribe.pipeline.contexts import Contexts
from deskscribe.pipeline.focus_flow import COVER_SLACK_NS, FocusFlow
from deskscribe.pipeline.frame_schedule import FrameScheduler
from deskscribe.pipeline.framer import Framer
from deskscribe.pipeline.gate import Gate
from deskscribe.pipeline.hotkey_filter import HotkeyFilter
from deskscribe.pipeline.inbox import (
    ContextChange,
    FocusChange,
    FramesPaused,
    Inbox,
    InputBatch,
    Item,
    LayoutChange,
    Marker,
    Pause,
    Resume,
)
from deskscribe.pipeline.input_flow import InputFlow
from deskscribe.pipeline.input_map import InputMapper
from deskscribe.pipeline.stages import Counts, Stages
from deskscribe.pipeline.targets import write_targets
from deskscribe.pipeline.titles import TitleCleaner
from deskscribe.policy import Policy
from deskscribe.redact.keystrokes import Scanner
from deskscribe.redact.stage import FrameStage, Redactor
from deskscribe.store import SessionWriter

_ENTER_KEYSYMS = frozenset({0xFF0D, 0xFF8D})  # Return, KP_Enter


@dataclass(frozen=True, slots=True)
class Stats:
    """What the status line, the tray and the session summary show; counts, never content."""

    inputs_excluded: int = 0
    inputs_paused: int = 0
    dropped: int = 0
    frames: int = 0
    recording_app: str | None = None
    frames_paused: bool = False
    paused: bool = False
    bursts_redacted: int = 0
    frames_dropped: int = 0
    frames_unanswered: int = 0  # a page did not describe itself in time, so no frame was kept
    kept_visible: bool = False  # designated pixels (a window or a page area) are on screen and read
    ocr_pixels: int = 0  # read by OCR so far; a page that described itself needed none
    frames_described: int = 0  # a context source described part of the frame's text


class Recorder:
    def __init__(self, *, leaf: Leaf, writer: SessionWriter, policy: Policy, scanner: Scanner,
                 redactor: Redactor, hotkey: Hotkey | None = None,
                 contexts: Sequence[ContextSource] = (),
                 mono_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._leaf = leaf
        self._writer = writer
        self._policy = policy
        self._mono_ns = mono_ns
        self._t0 = mono_ns()
        self._inbox = Inbox()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="deskscribe-pipeline", daemon=True)
        self._stage = FrameStage(redactor=redactor, sink=writer)
        self._s = _stages(leaf=leaf, writer=writer, policy=policy, scanner=scanner, stage=self._stage,
                          contexts=Contexts(sources=contexts), t0_ns=self._t0)
        self._focus = FocusFlow(stages=self._s)
        self._input = InputFlow(stages=self._s, focus=self._focus, t0_ns=self._t0,
                                hotkey=HotkeyFilter(hotkey=hotkey, keymap=leaf.keymap))
        self._withdrawn = threading.Event()
        self._latest_focus: WindowInfo | None = None  # as the leaf reported it, ahead of the inbox
        self._echo_off = False  # the last answer of the terminal echo check

    # -- called from leaf and control threads: enqueue only ------------------------------

    def on_input(self, batch: list[RawInput]) -> None:
        """Whether the focused window reads a secret is asked here, when the keys arrive: by the
        time the pipeline scans the burst the prompt may be over."""
        secret, before = False, self._echo_off
        gate = self._s.gate
        if gate.open and any(r.code == KEY_PRESS for r in batch):
            windows = {w.pid: w for w in (gate.window, self._latest_focus) if w is not None}
            secret = self._echo_off = self._s.contexts.secret_now(windows.values())
        last_enter = max((i for i, r in enumerate(batch) if r.code == KEY_PRESS and self._is_enter(r.detail)),
                         default=-1) if secret != before else -1
        self._inbox.offer(InputBatch(batch, secret, before, last_enter), len(batch))

    def _is_enter(self, keycode: int) -> bool:
        return bool(_ENTER_KEYSYMS.intersection(self._leaf.keymap.keysyms(keycode)))

    def on_layout(self, mono_ns: int) -> None:
        self._inbox.offer(LayoutChange(mono_ns))

    def on_focus(self, mono_ns: int, info: WindowInfo | None) -> None:
        self._latest_focus = info
        self._inbox.offer(FocusChange(mono_ns, info))

    @property
    def stats(self) -> Stats:
        s = self._s
        shown = self._leaf.layout.any_kept and self._leaf.screen.whole_since_ms is not None
        return Stats(inputs_excluded=s.counts.inputs_excluded, inputs_paused=s.counts.inputs_paused,
                     dropped=self._inbox.dropped, frames=s.frames.taken, recording_app=s.gate.app,
                     frames_paused=s.frames.paused, paused=s.gate.paused, bursts_redacted=s.typing.redacted,
                     frames_dropped=self._stage.dropped, frames_unanswered=s.frames.unanswered,
                     kept_visible=shown, ocr_pixels=self._stage.ocr_pixels,
                     frames_described=s.frames.described)

    @property
    def failure(self) -> str | None:
        return self._leaf.failure or self._stage.error

    @property
    def withdrawn(self) -> bool:
        return self._withdrawn.is_set()

    def withdraw(self) -> None:
        """Objection: from now on nothing is captured, and the recording ends."""
        self._s.gate.withdrawn = True
        self._withdrawn.set()
        self.add_marker("withdraw")

    def targets_arrived(self) -> None:
        """A context source holds new targets: the pipeline writes them without waiting for
        the next input (a select's option is chosen after the last click)."""
        self._inbox.wake()

    def context_changed(self) -> None:
        """Called by a context source's thread when its answer about a window changed."""
        self._inbox.offer(ContextChange())

    def add_marker(self, marker: str, **data: Any) -> None:
        self._inbox.offer(Marker(marker, data))

    def pause(self, seconds: float | None = None) -> None:
        """Stop capturing until :meth:`resume` (or for ``seconds``)."""
        self._inbox.offer(Pause(seconds))

    def resume(self) -> None:
        self._inbox.offer(Resume())

    def set_frames_paused(self, paused: bool) -> None:
        self._inbox.offer(FramesPaused(paused))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._s.emit(0, ev.MARKER, {"marker": "start"})
        self._thread.start()
        self._leaf.start(on_input=self.on_input, on_focus=self.on_focus, on_layout=self.on_layout)

    def stop(self) -> None:
        self._leaf.stop()
        self._stopping = True
        self._inbox.wake()
        self._thread.join()
        now = self._now()
        write_targets(self._s, self._rel)
        self._s.typing.release()
        self._s.frames.take(now, "final", None, only_if_changed=True)  # the state the session ends on
        self._focus.end_exclusion(now)
        self._s.emit(now, ev.MARKER, {"marker": "stop"})
        self._stage.close()

    # -- pipeline thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._inbox.wait(self._wait_s())
            for item in self._inbox.drain():
                self._handle(item)
            if self._stopping:
                self._writer.flush()
                return
            self._tick(self._now())
            self._writer.flush()

    def _wait_s(self) -> float:
        due = self._s.schedule.periodic_due_ns
        if self._focus.resume_at is not None:
            due = min(due, self._focus.resume_at)
        idle = self._s.typing.idle_due_ns(self._s.schedule.last_key_ns)
        if idle is not None:
            due = min(due, idle)
        return max(0.0, (due - self._now()) / 1e9)

    def _handle(self, item: Item) -> None:
        if isinstance(item, (FocusChange, LayoutChange, ContextChange, Pause)):
            write_targets(self._s, self._rel)  # seen while recorded: written before the gate may close
        match item:
            case InputBatch(batch=batch):
                for i, raw in enumerate(batch):
                    self._input.input(raw, item.secret_of(i))
            case FocusChange(mono_ns=mono_ns, window=window):
                self._focus.focus(self._rel(mono_ns), window)
            case LayoutChange(mono_ns=mono_ns):
                self._focus.check_cover(self._rel(mono_ns), slack_ns=COVER_SLACK_NS)
            case ContextChange():
                self._focus.focus(self._now(), self._s.gate.window, final_frame=False)
            case Marker(name=name, data=data):
                self._s.emit(self._now(), ev.MARKER, {"marker": name, **data})
            case Pause(seconds=seconds):
                self._focus.pause(self._now(), seconds)
            case Resume():
                self._focus.resume(self._now())
            case FramesPaused(paused=paused):
                self._frames_paused(paused)

    def _tick(self, now: int) -> None:
        """Timers: a timed pause ending, a burst quiet long enough, the periodic frame."""
        s = self._s
        write_targets(s, self._rel)
        if self._focus.resume_at is not None and now >= self._focus.resume_at:
            self._focus.resume(now)
        if s.typing.due(now, s.schedule.last_key_ns):
            s.typing.release(keep_line=True)
        if now >= s.schedule.periodic_due_ns:
            if s.typing.held:  # the screen shows a burst not yet scanned: wait a period
                s.schedule.taken(now)
            else:
                s.frames.take(now, "periodic", None, only_if_changed=True)

    def _now(self) -> int:
        return self._rel(self._mono_ns())

    def _rel(self, mono_ns: int) -> int:
        return max(0, mono_ns - self._t0)

    def _frames_paused(self, paused: bool) -> None:
        if paused != self._s.frames.paused:
            self._s.frames.paused = paused
            self._s.emit(self._now(), ev.MARKER, {"marker": "frames_off" if paused else "frames_on"})


def _stages(*, leaf: Leaf, writer: SessionWriter, policy: Policy, scanner: Scanner, stage: FrameStage,
            contexts: Contexts, t0_ns: int) -> Stages:
    gate = Gate(policy=policy, contexts=contexts)
    schedule = FrameScheduler(interval_ns=int(policy.screenshot_interval_s * 1e9))
    typing = TypingStage(scanner=scanner, policy=policy, stage=stage, writer=writer, contexts=contexts,
                         gate=gate, t0_ns=t0_ns)

    return Stages(leaf=leaf, policy=policy, gate=gate, input_map=InputMapper(), schedule=schedule,
                  typing=typing, contexts=contexts, counts=Counts(),
                  frames=Framer(leaf=leaf, writer=writer, stage=stage, gate=gate, schedule=schedule,
                                contexts=contexts, enabled=policy.frames, emit=typing.emit, t0_ns=t0_ns),
                  titles=TitleCleaner(scanner=scanner, synthetic=policy.synthetic_values,
                                      on_redacted=stage.add_known))
