"""What a contributor may change in review, and how: the rules `deskscribe review` and the
review web app both follow, so a change made in either is refused or allowed alike.

* An uploaded session no longer changes here (the collector holds it; `deskscribe me delete`
  erases it there).
* Instructions stop changing once a session is approved: that is what was agreed to be sent.
* Deleting steps or blacking out an area of an approved session that waits for upload
  withdraws the approval: the changed session needs approving again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import session_episodes
from deskscribe.dataset.episodes import Episode
from deskscribe.dataset.preview import session_actions, step_contents
from deskscribe.errors import UserError
from deskscribe.events import Event
from deskscribe.frame_codec import FrameSource
from deskscribe.geometry import Rect
from deskscribe.instructions import Annotation
from deskscribe.outbox import Outbox
from deskscribe.redact.text import Redacted
from deskscribe.store import SessionReader
from deskscribe.web.blackout import frames_showing

TO_REVIEW = "to review"
APPROVED = "approved"
UPLOADED = "uploaded"


def state(box: Outbox, session_id: str) -> str:
    if session_id not in box.approved():
        return TO_REVIEW
    return APPROVED if session_id in box.pending() else UPLOADED


def episodes_of(reader: SessionReader, events: list[tuple[int, Event]] | None = None) -> list[Episode]:
    """The session's episodes as a build would make them, with the instructions given in review
    (from ``events`` when the caller has decrypted them already)."""
    events = list(reader.iter_events()) if events is None else events
    return session_episodes(reader.meta, events, 1, set(reader.frame_ids()), reader.annotations())


def refuse_if_uploaded(box: Outbox, session_id: str) -> None:
    if state(box, session_id) == UPLOADED:
        raise UserError(f"session {session_id} is already uploaded; `deskscribe me delete` erases"
                        " what the collector holds")


def refuse_if_sent(box: Outbox, session_id: str) -> None:
    """What was approved is what the contributor agreed to send: it no longer changes."""
    now = state(box, session_id)
    if now == APPROVED:
        raise UserError(f"session {session_id} is already approved and waits for upload; its"
                        " instructions can no longer change")
    if now == UPLOADED:
        raise UserError(f"session {session_id} is already uploaded; its instructions can no longer change")


def _sealed(reader: SessionReader, session_id: str) -> None:
    if not reader.sealed:
        raise UserError(f"session {session_id} is still recording or was cut off; stop it first")


@dataclass(frozen=True, slots=True)
class Changed:
    """What a rewrite removed, and whether it withdrew an approval."""

    events: int
    frames: int
    reapprove: bool


def _withdraw_approval(box: Outbox, session_id: str) -> bool:
    if session_id in box.approved():
        box.forget(session_id)
        return True
    return False


def drop_steps(dd: DataDir, box: Outbox, session_id: str, steps: list[int]) -> Changed:
    """Delete steps (numbered as `review show` lists them) with their screenshots."""
    refuse_if_uploaded(box, session_id)
    with dd.open(session_id) as reader:
        _sealed(reader, session_id)
        events = list(reader.iter_events())
        actions, _ = session_actions(reader, events)
    try:
        drop_events, drop_frames = step_contents(events, actions, steps)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    dd.rewrite(session_id, drop_events=drop_events, drop_frames=drop_frames)
    return Changed(len(drop_events), len(drop_frames), _withdraw_approval(box, session_id))


def black_out(dd: DataDir, box: Outbox, session_id: str, frame_id: int, area: Rect, *,
              everywhere: bool = False) -> Changed:
    """Paint ``area`` black on ``frame_id`` and on every other stored frame showing the same
    pixels there (see :mod:`deskscribe.web.blackout`)."""
    refuse_if_uploaded(box, session_id)
    with dd.open(session_id) as reader:
        _sealed(reader, session_id)
        ids = reader.frame_ids()
        if frame_id not in ids:
            raise UserError(f"session {session_id} has no screenshot {frame_id}")
        frames = FrameSource(reader=reader)
        chosen = frames.image(frame_id)
        if area.width <= 0 or area.height <= 0:
            raise UserError("the area to black out is empty; draw a box over what should go")
        hit = frames_showing(area, chosen, ((i, frames.image(i)) for i in ids), everywhere=everywhere)
    dd.rewrite(session_id, drop_events=set(), drop_frames=set(), blackouts={i: (area,) for i in hit})
    return Changed(0, len(hit), _withdraw_approval(box, session_id))


OUTCOMES = ("success", "fail")  # as `task end --status` records them


@dataclass(frozen=True, slots=True)
class Annotated:
    episode: int
    before: str
    text: str
    replaced: tuple[str, ...]
    outcome: str | None = None  # set now; None: left as it was
    before_outcome: str = "unknown"

    def said(self) -> str:
        """What changed, in one line."""
        parts = []
        if self.text:
            verb = f"changed from {self.before!r} to" if self.before else "set to"
            replaced = f" (replaced: {', '.join(self.replaced)})" if self.replaced else ""
            parts.append(f"instruction {verb} {self.text!r}{replaced}")
        if self.outcome is not None:
            parts.append(f"outcome {self.outcome} (was {self.before_outcome})")
        return "; ".join(parts) or "nothing changed"


def annotate(dd: DataDir, box: Outbox, session_id: str, episode: int, instruction: str,
             scan: Callable[[str], Redacted], outcome: str | None = None) -> Annotated:
    """Give episode ``episode`` (1-based) its instruction, scanned by ``scan`` before it is
    stored, and or its outcome (how the task ended)."""
    text = " ".join(instruction.split())
    if outcome is not None and outcome not in OUTCOMES:
        raise UserError(f"the outcome is {' or '.join(OUTCOMES)}, not {outcome!r}")
    if not text and outcome is None:
        raise UserError("the instruction is empty; say what the task was")
    refuse_if_sent(box, session_id)
    with dd.open(session_id) as reader:
        _sealed(reader, session_id)
        episodes = episodes_of(reader)
    if not 1 <= episode <= len(episodes):
        has = f"episodes 1-{len(episodes)}" if episodes else "no episodes"
        raise UserError(f"no episode {episode}: session {session_id} has {has} (see `deskscribe review show"
                        f" {session_id}`)")
    ep = episodes[episode - 1]
    if text == ep.instruction:
        text = ""  # unchanged: it keeps where it came from
    if not text and outcome is None:
        return Annotated(episode, ep.instruction, "", (), None, ep.status)
    red = scan(text) if text else None
    first, last = ep.span_ns
    kinds = tuple(sorted(set(red.kinds))) if red else ()
    dd.annotate(session_id, Annotation(t_first_ns=first, t_last_ns=last, instruction=red.text if red else "",
                                       redacted=kinds, outcome=outcome))
    return Annotated(episode, ep.instruction, red.text if red else "", kinds, outcome, ep.status)


def approve(dd: DataDir, box: Outbox, session_id: str) -> None:
    infos = {i.session_id: i for i in dd.sessions()}
    if session_id not in infos or not infos[session_id].sealed:
        raise UserError(f"no sealed session {session_id} in {dd.root}")
    box.approve(session_id)


def delete(dd: DataDir, box: Outbox, session_id: str) -> None:
    dd.delete(session_id)
    box.forget(session_id)
