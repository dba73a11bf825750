"""What the review pages show of a session: its row in the list, its episodes with the step
numbers `review show` prints, and each episode's steps for the viewer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from deskscribe.datadir import SessionInfo
from deskscribe.dataset.actions import Action
from deskscribe.dataset.episodes import Episode
from deskscribe.dataset.export.base import export_target
from deskscribe.events import FOCUS, Event
from deskscribe.web.removed import excluded_seconds, in_words, removed_counts, review_deletions
from deskscribe.web.viewer import StepView, action_path, step_view


@dataclass(frozen=True, slots=True)
class SessionRow:
    session_id: str
    state: str
    duration_s: float
    apps: tuple[str, ...]
    sites: tuple[str, ...]
    actions: int
    action_mix: str
    episodes: int
    without_instruction: int
    frames: int
    removed: str  # "2 e-mail addresses, 1 password"
    excluded_s: float  # time in other apps, of which nothing was kept
    deleted_in_review: int  # events
    blacked_out_in_review: int  # screenshots


def sites(events: Sequence[tuple[int, Event]]) -> tuple[str, ...]:
    hosts = {urlsplit(str(e.data["url"])).hostname or "" for _, e in events
             if e.kind == FOCUS and e.data.get("url")}
    return tuple(sorted(h for h in hosts if h))


def session_row(info: SessionInfo, state: str, events: Sequence[tuple[int, Event]], actions: Sequence[Action],
                apps: Sequence[str], episodes: Sequence[Episode], extra: dict[str, object]) -> SessionRow:
    kinds = Counter(a.type for a in actions)
    return SessionRow(
        session_id=info.session_id, state=state, duration_s=info.duration_s, apps=tuple(apps),
        sites=sites(events), actions=len(actions),
        action_mix=", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "none",
        episodes=len(episodes), without_instruction=sum(not ep.instruction for ep in episodes),
        frames=info.frames, removed=in_words(removed_counts(events)), excluded_s=excluded_seconds(events),
        deleted_in_review=review_deletions(extra)[0], blacked_out_in_review=review_deletions(extra)[1])


def action_numbers(actions: Sequence[Action]) -> dict[int, int]:
    """Each action's number as `review show` prints it, keyed by its first raw event id."""
    return {min(a.event_ids): i for i, a in enumerate(actions, start=1) if a.event_ids}


def step_numbers(ep: Episode, numbers: dict[int, int]) -> list[int]:
    """The `review show` number of each step; the closing ``terminate`` takes the last one."""
    out: list[int] = []
    for s in ep.steps:
        ids = s.action.event_ids
        out.append(numbers.get(min(ids), out[-1] if out else 0) if ids else (out[-1] if out else 0))
    return out


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    number: int  # 1-based, as `review annotate` takes it
    instruction: str
    source: str | None
    status: str
    first_step: int
    last_step: int
    steps: int  # without the closing terminate
    flags: tuple[str, ...]


def episode_rows(episodes: Sequence[Episode], numbers: dict[int, int]) -> list[EpisodeRow]:
    rows = []
    for n, ep in enumerate(episodes, start=1):
        nums = step_numbers(ep, numbers)
        rows.append(EpisodeRow(n, ep.instruction, ep.instruction_source, ep.status, nums[0] if nums else 0,
                               nums[-1] if nums else 0, len(ep.steps) - 1, tuple(ep.flags)))
    return rows


def frame_url(session_id: str, frame_id: int, version: str, kind: str) -> str:
    ext = "png" if kind == "full" else "webp"
    return f"/sessions/{session_id}/frames/{frame_id}.{ext}?v={version}"


def episode_steps(session_id: str, version: str, ep: Episode, numbers: dict[int, int],
                  screen: tuple[int, int]) -> list[StepView]:
    w, h = screen
    out = []
    for s, number in zip(ep.steps, step_numbers(ep, numbers), strict=True):
        fid = s.frame_id
        out.append(step_view(
            number, s.action.normalised(w, h), export_target(s.target, w, h),
            image_url="" if fid is None else frame_url(session_id, fid, version, "full"),
            thumb_url="" if fid is None else frame_url(session_id, fid, version, "thumb"),
            width=w, height=h, path=action_path(s.action, w, h)))
    return out
