"""Actions -> steps (each with what the person saw just before) -> episodes.

Explicit task markers define episodes when a session has them; otherwise a session is split at
`excluded` gaps, long idle gaps and its end. Every episode ends with a `terminate` step. An
instruction comes from the task marker or, given in review, from an annotation, and says which;
flags say what a consumer may want to filter on (a step without its screenshot because the
recorder dropped it, a step with redacted content).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deskscribe import events as ev
from deskscribe.dataset.actions import Action
from deskscribe.dataset.targets import Recorded, chosen_option, recorded_targets, target_for
from deskscribe.instructions import Annotation
from deskscribe.redact.text import DENIED, MASKED, PASSWORD, PII_ENTITIES, SECRET

MS = 1_000_000
TASK_START = "task_start"
REVIEW = "review"
FRAMES_DROPPED = "frames_dropped"
REDACTED = "redacted"
PLACEHOLDER = re.compile("<(" + "|".join((*PII_ENTITIES, SECRET, PASSWORD, MASKED, DENIED)) + ")>")


def placeholder_kinds(text: str | None) -> list[str]:
    """The kinds of the placeholders redaction left in a text (none with synthetic values)."""
    return PLACEHOLDER.findall(text) if text else []


@dataclass(frozen=True, slots=True)
class EpisodeParams:
    idle_split_s: float = 300.0
    precision_ms: int = 100


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    frame_id: int | None
    focus: dict[str, Any]
    t_ms: int  # since the episode's start, at the policy's precision
    target: dict[str, Any] | None = None  # the element aimed at, when a source saw it


@dataclass(slots=True)
class Episode:
    index: int
    instruction: str
    status: str
    steps: list[Step] = field(default_factory=list)
    instruction_source: str | None = None  # TASK_START, REVIEW, or None without an instruction
    flags: list[str] = field(default_factory=list)

    @property
    def span_ns(self) -> tuple[int, int]:
        """From the first action to the end of the last (its ``terminate`` step)."""
        return self.steps[0].action.t_ns, self.steps[-1].action.t_ns


@dataclass(frozen=True, slots=True)
class _Marks:
    """Lookups by raw event id: the latest frame / focus before a given event."""

    frame_ids: list[int]
    frames: list[int | None]
    focus_ids: list[int]
    focus: list[dict[str, Any]]
    dropped: list[bool]  # the frame event's screenshot was never stored
    redacted_ids: frozenset[int]  # typing bursts the recorder replaced

    def frame_before(self, event_id: int) -> int | None:
        i = bisect.bisect_left(self.frame_ids, event_id)
        return self.frames[i - 1] if i else None

    def dropped_before(self, event_id: int) -> bool:
        i = bisect.bisect_left(self.frame_ids, event_id)
        return self.dropped[i - 1] if i else False

    def focus_before(self, event_id: int) -> dict[str, Any]:
        i = bisect.bisect_left(self.focus_ids, event_id)
        return self.focus[i - 1] if i else {}


def _marks(events: Sequence[tuple[int, ev.Event]], stored: set[int] | None) -> _Marks:
    frames = [(i, f if stored is None or f in stored else None)
              for i, f in ((i, int(e.data["frame_id"])) for i, e in events if e.kind == ev.FRAME)]
    focus = [(i, dict(e.data)) for i, e in events if e.kind == ev.FOCUS]
    return _Marks([i for i, _ in frames], [f for _, f in frames],
                  [i for i, _ in focus], [f for _, f in focus], [f is None for _, f in frames],
                  frozenset(i for i, e in events if e.kind == ev.TEXT))


def _spans(events: Sequence[tuple[int, ev.Event]], actions: Sequence[Action], idle_ns: int
           ) -> list[tuple[int, int, str, str]]:
    """(first event id, last event id, instruction, status) of each episode."""
    spans: list[tuple[int, int, str, str]] = []
    markers = [(i, e) for i, e in events if e.kind == ev.MARKER]
    tasks = [(i, e) for i, e in markers if e.data["marker"] in ("task_start", "task_end")]
    if tasks:
        start: tuple[int, str] | None = None
        for i, e in tasks:
            if e.data["marker"] == "task_start":
                start = (i, str(e.data.get("instruction", "")))
            elif start is not None:
                spans.append((start[0], i, start[1], str(e.data.get("status", "unknown"))))
                start = None
        if start is not None:
            spans.append((start[0], events[-1][0], start[1], "unknown"))
        return spans
    cuts = [i for i, e in markers if e.data["marker"] in ("excluded", "pause", "stop")]
    for prev, nxt in itertools.pairwise(actions):
        if nxt.t_ns - prev.t_end_ns > idle_ns:
            cuts.append(nxt.event_ids[0] - 1)
    begin = 0
    for cut in [*sorted(set(cuts)), events[-1][0] if events else 0]:
        spans.append((begin, cut, "", "unknown"))
        begin = cut + 1
    return spans


def build_episodes(events: Sequence[tuple[int, ev.Event]], actions: Sequence[Action],
                   params: EpisodeParams = EpisodeParams(), stored_frames: set[int] | None = None
                   ) -> list[Episode]:
    marks = _marks(events, stored_frames)
    targets = recorded_targets(events)
    episodes: list[Episode] = []
    for first, last, instruction, status in _spans(events, actions, int(params.idle_split_s * 1e9)):
        inside = [a for a in actions if first <= min(a.event_ids) <= last]
        if not inside:
            continue
        ep = Episode(index=len(episodes), instruction=instruction, status=status,
                     instruction_source=TASK_START if instruction else None)
        t0 = inside[0].t_ns
        flags: set[str] = set()
        for a in inside:
            first_id = min(a.event_ids)
            action, target = _aimed(a, targets)
            step = Step(action, marks.frame_before(first_id), marks.focus_before(first_id),
                        _coarse(a.t_ns - t0, params.precision_ms), target)
            ep.steps.append(step)
            flags |= _step_flags(step, marks, first_id)
        end = inside[-1]
        final_frame = marks.frame_before(last + 1)
        term = Action("terminate", end.t_end_ns, end.t_end_ns, {"status": status}, ())
        ep.steps.append(Step(term, final_frame, marks.focus_before(last + 1),
                             _coarse(end.t_end_ns - t0, params.precision_ms)))
        if final_frame is None and marks.dropped_before(last + 1):
            flags.add(FRAMES_DROPPED)
        ep.flags = sorted(flags)
        episodes.append(ep)
    return episodes


def _step_flags(step: Step, marks: _Marks, first_id: int) -> set[str]:
    flags = set()
    if step.frame_id is None and marks.dropped_before(first_id):
        flags.add(FRAMES_DROPPED)
    texts = (step.action.fields.get("text"), step.focus.get("title"), step.focus.get("url"),
             (step.target or {}).get("name"))
    if marks.redacted_ids.intersection(step.action.event_ids) or any(map(placeholder_kinds, texts)):
        flags.add(REDACTED)
    return flags


def annotated(episodes: Sequence[Episode], notes: Sequence[Annotation]) -> list[Episode]:
    """Episodes with the instructions given in review in place of the recorded ones: each
    takes the annotation whose span holds its first action (a part left of an episode after
    review deleted steps keeps the annotation of the whole)."""
    out = []
    for ep in episodes:
        note = next((a for a in reversed(notes) if a.holds(ep.span_ns[0])), None)
        if note is None:
            out.append(ep)
            continue
        flags = sorted({*ep.flags, REDACTED}) if note.redacted else ep.flags
        if note.instruction:
            ep = dataclasses.replace(ep, instruction=note.instruction, instruction_source=REVIEW, flags=flags)
        if note.outcome is not None:
            ep = with_outcome(ep, note.outcome)
        out.append(ep)
    return out


def with_outcome(ep: Episode, outcome: str) -> Episode:
    """The episode as the contributor says it ended: its status and its ``terminate`` step."""
    steps = list(ep.steps)
    if steps and steps[-1].action.type == "terminate":
        end = steps[-1]
        steps[-1] = dataclasses.replace(end, action=dataclasses.replace(
            end.action, fields={**end.action.fields, "status": outcome}))
    return dataclasses.replace(ep, status=outcome, steps=steps)


def _aimed(a: Action, targets: Sequence[Recorded]) -> tuple[Action, dict[str, Any] | None]:
    """The action with its target; a click on a ``<select>`` that chose an option is a select."""
    target = target_for(a, targets)
    if target is not None and target.get("tag") == "select":
        value = chosen_option(a, targets)
        if value is not None:
            fields = {"x": a.fields["x"], "y": a.fields["y"], "value": value}
            return Action("select", a.t_ns, a.t_end_ns, fields, a.event_ids, a.path), target
    return a, target


def _coarse(delta_ns: int, precision_ms: int) -> int:
    return (delta_ns // MS) // precision_ms * precision_ms
