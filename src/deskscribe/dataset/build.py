"""Sessions -> episodes -> one export. The only place a build touches identities and time."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from deskscribe.dataset.episodes import Episode, EpisodeParams, build_episodes
from deskscribe.dataset.export.base import BuildSummary, ExportEpisode, Exporter, ExportStep, export_target
from deskscribe.dataset.reduce import ReduceParams, reduce_events
from deskscribe.errors import DataKeyError, StoreError
from deskscribe.events import Event, SessionMeta
from deskscribe.frame_codec import FrameSource
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
                     stored_frames: set[int] | None = None) -> list[Episode]:
    """Reducer thresholds come from the session's own desktop; precision is the coarser of the
    release's and the policy's. A frame the recorder dropped (redaction fell behind) leaves its
    steps without a screenshot rather than with an older one."""
    params = ReduceParams(double_click_ms=meta.double_click_ms, double_click_px=meta.double_click_px)
    actions = reduce_events(events, params)
    precision = max(precision_ms, int(meta.extra.get("timing_precision_ms", 0)))
    return build_episodes(events, actions, EpisodeParams(precision_ms=precision), stored_frames)


# What a damaged or foreign session file raises while it is read.
UNREADABLE = (StoreError, DataKeyError, sqlite3.DatabaseError, zlib.error, ValueError)


def unreadable(exc: Exception) -> str:
    """Why a session could not be read, as one line."""
    if isinstance(exc, StoreError | DataKeyError):
        return str(exc)  # already says what happened and what to do
    return f"the session file is damaged ({exc or type(exc).__name__})"


def _read(open_session: Callable[[str], SessionReader], sid: str
          ) -> tuple[SessionReader, list[tuple[int, Event]], set[int]]:
    """The session's reader, events and stored frame ids; the reader is closed if reading fails."""
    reader = open_session(sid)
    try:
        return reader, list(reader.iter_events()), set(reader.frame_ids())
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
                reader, events, stored = _read(open_session, sid)
            except UNREADABLE as exc:
                if on_skip is None:
                    raise
                on_skip(sid, unreadable(exc))
                progress(sid)
                continue
            with reader:
                _export_session(reader, sid, events, stored, release=release, exporter=exporter,
                                summary=summary)
            progress(sid)
        exporter.close(summary)
    return summary


def _export_session(reader: SessionReader, sid: str, events: list[tuple[int, Event]], stored: set[int], *,
                    release: Release, exporter: Exporter, summary: BuildSummary) -> None:
    meta = reader.meta
    episodes = session_episodes(meta, events, release.precision_ms, stored)
    contributor = release.pseudonym("contributor", meta.contributor_id)
    frames = FrameSource(reader=reader)
    w, h = screen_size(meta)
    for ep in episodes:
        out = ExportEpisode(
            episode_id=release.pseudonym("episode", f"{sid}/{ep.index}"), contributor=contributor,
            split=release.split(contributor), instruction=ep.instruction, status=ep.status,
            screen=(w, h), steps=[ExportStep(
                step=i, t_ms=s.t_ms, app=s.focus.get("app"), title=s.focus.get("title"),
                url=s.focus.get("url"), action=s.action.normalised(w, h),
                window=s.focus.get("geometry"), target=export_target(s.target, w, h),
                image=None if s.frame_id is None else frames.png(s.frame_id))
                for i, s in enumerate(ep.steps)])
        exporter.add(out)
        summary.add(out)
    summary.policy_versions.add(meta.policy_version)
    summary.recorder_versions.add(meta.recorder_version)
