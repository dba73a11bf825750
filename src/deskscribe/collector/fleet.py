"""Fleet health for the collector's /metrics: how many devices, and how uploads are going.

Nothing here is per person (invariant 5). Upload figures span people, so they are withheld
until at least ``MIN_PEOPLE`` contributors have uploaded: with one uploader they would
describe one person.
"""

from __future__ import annotations

from sqlalchemy import func, select

from deskscribe.collector.schema import chunks, devices, sessions
from deskscribe.collector.store import MIN_PEOPLE, CollectorStore


def fleet(store: CollectorStore) -> dict[str, int]:
    with store.engine.connect() as c:
        devs = c.execute(select(func.count()).select_from(devices)
                         .where(devices.c.revoked_ns.is_(None))).scalar()
        people = c.execute(select(func.count(sessions.c.contributor_id.distinct()))).scalar() or 0
        if people < MIN_PEOPLE:
            return {"devices": int(devs or 0), "upload_figures_withheld": 1}
        done = c.execute(select(func.count()).select_from(sessions)
                         .where(sessions.c.completed_ns.is_not(None))).scalar()
        size = c.execute(select(func.coalesce(func.sum(chunks.c.size), 0))).scalar()
        waiting, oldest = c.execute(select(func.count(), func.min(sessions.c.created_ns))
                                    .where(sessions.c.completed_ns.is_(None))).one()
    lag = 0 if oldest is None else max(0, (store.wall_ns() - int(oldest)) // 10**9)
    return {"devices": int(devs or 0), "upload_figures_withheld": 0, "sessions_complete": int(done or 0),
            "uploads_incomplete": int(waiting or 0), "oldest_incomplete_upload_seconds": int(lag),
            "bytes_received": int(size or 0)}
