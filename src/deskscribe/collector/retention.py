"""Retention: the collector deletes each stage when the current policy's time-to-live ends.

Incomplete uploads, complete sessions (chunks and blobs) and built datasets each have their
own limit in days; what expires is deleted, not hidden, and the sweep is in the audit log.
"""

from __future__ import annotations

from sqlalchemy import select

from deskscribe.collector.blobs import DATASETS
from deskscribe.collector.schema import chunks, datasets, session_weeks, sessions
from deskscribe.collector.store import CollectorStore
from deskscribe.policy import Retention, parse_policy

DAY_NS = 86_400 * 10**9


def sweep(store: CollectorStore, retention: Retention | None = None) -> dict[str, int]:
    """Delete what the policy no longer allows to be kept; returns how much of each stage went.
    Without a published policy the defaults apply."""
    if retention is None:
        from deskscribe.collector.policies import Policies

        current = Policies(store=store).current()
        retention = Retention() if current is None else parse_policy(current[1]).retention
    now = store.wall_ns()
    with store.engine.begin() as c:
        expired = c.execute(
            select(sessions.c.id, sessions.c.contributor_id).where(
                (
                    sessions.c.completed_ns.is_not(None)
                    & (sessions.c.completed_ns < now - retention.sessions_days * DAY_NS)
                )
                | (
                    sessions.c.completed_ns.is_(None)
                    & (sessions.c.created_ns < now - retention.incomplete_days * DAY_NS)
                )
            )
        ).all()
        ids = [r.id for r in expired]
        if ids:
            c.execute(chunks.delete().where(chunks.c.session_id.in_(ids)))
            c.execute(sessions.delete().where(sessions.c.id.in_(ids)))
            c.execute(session_weeks.delete().where(session_weeks.c.session_id.in_(ids)))
        old = [
            r.id
            for r in c.execute(
                select(datasets.c.id).where(
                    (datasets.c.state != "expired")
                    & (datasets.c.created_ns < now - retention.datasets_days * DAY_NS)
                )
            )
        ]
        if old:
            c.execute(
                datasets.update()
                .where(datasets.c.id.in_(old))
                .values(state="expired", key=None, stale_reason="past the policy's retention")
            )
        if ids or old:
            store.audit(c, "retention", "expire", f"{len(ids)} sessions", f"{len(old)} datasets")
    for r in expired:
        store.blobs.delete(f"{r.contributor_id}/{r.id}")
    for ds in old:
        store.blobs.delete(f"{DATASETS}/{ds}")
    return {"sessions": len(ids), "datasets": len(old)}
