"""Erasure on the collector: everything held about one contributor, gone.

The wrapped data key goes first: once it is deleted nothing of theirs decrypts, backups
included, even if a later step fails. Then every session, chunk, blob, consent record and
device; datasets built from them turn stale and their files are deleted until a rebuild
leaves the person out. The audit log keeps only that a device id erased something.
"""

from __future__ import annotations

from sqlalchemy import select

from deskscribe.collector.blobs import DATASETS
from deskscribe.collector.roles import Device, require
from deskscribe.collector.schema import (
    chunks,
    consent,
    dataset_members,
    datasets,
    devices,
    session_weeks,
    sessions,
    wrapped_keys,
)
from deskscribe.collector.store import CollectorStore


def erase(store: CollectorStore, device: Device) -> int:
    """Erase the device's contributor; returns how many sessions were removed."""
    require(device, "contributor")
    who = device.contributor_id
    with store.engine.begin() as c:
        c.execute(wrapped_keys.delete().where(wrapped_keys.c.contributor_id == who))
        ids = [r.id for r in c.execute(select(sessions.c.id).where(sessions.c.contributor_id == who))]
        if ids:
            c.execute(chunks.delete().where(chunks.c.session_id.in_(ids)))
        c.execute(sessions.delete().where(sessions.c.contributor_id == who))
        c.execute(session_weeks.delete().where(session_weeks.c.session_id.in_(ids)))
        c.execute(consent.delete().where(consent.c.contributor_id == who))
        c.execute(devices.delete().where(devices.c.contributor_id == who))
        stale = [r.dataset_id for r in c.execute(select(dataset_members.c.dataset_id)
                                                  .where(dataset_members.c.contributor_id == who))]
        c.execute(dataset_members.delete().where(dataset_members.c.contributor_id == who))
        if stale:
            c.execute(datasets.update().where(datasets.c.id.in_(stale) & (datasets.c.state == "ready"))
                      .values(state="stale", key=None,
                              stale_reason="a contributor erased their data; rebuild it"))
        store.audit(c, device.id, "erase", f"{len(ids)} sessions", f"{len(stale)} datasets stale")
    store.blobs.delete(who)
    for ds in stale:
        store.blobs.delete(f"{DATASETS}/{ds}")
    return len(ids)
