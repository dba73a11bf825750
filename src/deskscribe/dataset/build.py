"""Sessions -> episodes -> one export. The only place a build touches identities and time."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from deskscribe.dataset.episodes import Episode, EpisodeParams, annotated, build_episodes
from deskscribe.dataset.export.base import BuildSummary, ExportEpisode, Exporter, ExportStep, export_target
from deskscribe.dataset.reduce import ReduceParams, reduce_events
from deskscribe.errors import DataKeyError, StoreError
from deskscribe.events import Event, SessionMeta
from deskscribe.frame_codec import FrameSource
from deskscribe.instructions import Annotation
from deskscribe.store import SessionReader


@dataclass(frozen=True, slots=True)
class Release:
    """Per-release secrets: pseudonyms made with this key link nothing across releases."""

    key: bytes
    precision_ms: int = 100

    def pseudonym(self, kind: str, value: str) -> str:
        return hmac.new(self.key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:16]

    def split(self, contributor: str) -> str:
        """Whole contributors go to one split: 80 % train, 10 % validation, 10 % test."""
        bucket = int(contributor[:8], 16) % 10
        return "train" if bucket < 8 else "validation" if bucket == 8 else "test"


def screen_size(meta: SessionMeta) -> tuple[int, int]:
    if not meta.monitors:
        return (1, 1)
    x0 = min(m.x for m in meta.monitors)
    y0 = min(m.y for m in meta.monitors)
    return (max(m.x + m.width for m in meta.monitors) - x0, max(m.y + m.height for m in meta.monitors) - y0)


def session_episodes(meta: SessionMeta, events: list[tuple[int, Event]], precision_ms: int,
                     stored_frames: set[int] | None = None, notes: Sequence[Annotation] = ()
                     ) -> list[Episode]:
    """Reducer thresholds come from the session's own desktop; precision is the coarser of the
    release's and the policy's. A frame the recorder dropped (redaction fell behind) leaves its
    steps without a screenshot rather than with an older one. Instructions given in review
    (``notes``) replace the recorded ones."""
    params = ReduceParams(double_click_ms=meta.double_click_ms, double_click_px=meta.double_click_px)
    actions = reduce_events(events, params)
    precision = max(precision_ms, int(meta.extra.get("timing_precision_ms", 0)))
    episodes = build_episodes(events, actions, EpisodeParams(precision_ms=precision), stored_frames)
    return annotated(episodes, notes)


# What a damaged or foreign session file raises while it is read.
UNREADABLE = (StoreError, DataKeyError, sqlite3.DatabaseError, zlib.error, ValueError)


def unreadable(exc: Exception) -> str:
    """Why a session could not be read, as one line."""
    if isinstance(exc, StoreError | DataKeyError):
        return str(exc)  # already says what happened and what to do
    return f"the session file is damaged ({exc or type(exc).__name__})"


@dataclass(frozen=True, slots=True)
class _Session:
    reader: SessionReader
    events: list[tuple[int, Event]]
    stored: set[int]  # frame ids
    notes: list[Annotation]


def _read(open_session: Callable[[str], SessionReader], sid: str) -> _Session:
    """Everything a build takes from a session, read before any of it is exported, so a
    damaged part skips the whole session; the reader is closed if reading fails."""
    reader = open_session(sid)
    try:
        return _Session(reader, list(reader.iter_events()), set(reader.frame_ids()), reader.annotations())
    except BaseException:
        reader.close()
        raise


def build_dataset(*, open_session: Callable[[str], SessionReader], session_ids: Iterable[str],
                  exporter: Exporter,
                  release: Release, fmt: str,
                  progress: Callable[[str], None] = lambda _: None,
                  on_skip: Callable[[str, str], None] | None = None) -> BuildSummary:
    """With ``on_skip``, a session that cannot be read is reported there (id, reason) and left
    out, so one damaged file does not stop a build of the rest; without it, the error stands."""
    summary = BuildSummary(fmt=fmt, precision_ms=release.precision_ms,
                           reduce_version=ReduceParams().version)
    with exporter:
        for sid in session_ids:
            try:
                session = _read(open_session, sid)
            except UNREADABLE as exc:
                if on_skip is None:
                    raise
                on_skip(sid, unreadable(exc))
                progress(sid)
                continue
            with session.reader:
                _export_session(session, sid, release=release, exporter=exporter, summary=summary)
            progress(sid)
        exporter.close(summary)
    return summary


def _export_session(session: _Session, sid: str, *, release: Release, exporter: Exporter,
                    summary: BuildSummary) -> None:
    meta = session.reader.meta
    episodes = session_episodes(meta, session.events, release.precision_ms, session.stored, session.notes)
    contributor = release.pseudonym("contributor", meta.contributor_id)
    frames = FrameSource(reader=session.reader)
    w, h = screen_size(meta)
    for ep in episodes:
        out = ExportEpisode(
            episode_id=release.pseudonym("episode", f"{sid}/{ep.index}"), contributor=contributor,
            split=release.split(contributor), instruction=ep.instruction, status=ep.status,
            instruction_source=ep.instruction_source, flags=list(ep.flags), screen=(w, h), steps=[ExportStep(
                step=i, t_ms=s.t_ms, app=s.focus.get("app"), title=s.focus.get("title"),
                url=s.focus.get("url"), action=s.action.normalised(w, h),
                window=s.focus.get("geometry"), target=export_target(s.target, w, h),
                image=None if s.frame_id is None else frames.png(s.frame_id))
                for i, s in enumerate(ep.steps)])
        exporter.add(out)
        summary.add(out)
    summary.policy_versions.add(meta.policy_version)
    summary.recorder_versions.add(meta.recorder_version)
