"""The audit log as a hash chain: each entry commits to the one before, so an edited, removed
or reordered entry is found by re-walking the chain."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from deskscribe.collector.models import AuditEntry
from deskscribe.collector.schema import audit

GENESIS = "0" * 64


def append(c: Connection, *, at_ns: int, actor: str, action: str, subject: str, detail: str = "") -> None:
    if c.dialect.name == "postgresql":  # one chain: appends are serialised
        c.execute(text("SELECT pg_advisory_xact_lock(7301)"))
    elif c.dialect.name == "sqlite":  # a write first: SQLite's write lock is held before the read
        c.execute(audit.update().where(text("0")).values(seq=audit.c.seq))
    last = c.execute(select(audit.c.hash).order_by(audit.c.seq.desc()).limit(1)).first()
    prev = last.hash if last is not None else GENESIS
    c.execute(audit.insert().values(at_ns=at_ns, actor=actor, action=action, subject=subject,
                                    detail=detail, prev_hash=prev,
                                    hash=_chain(prev, at_ns, actor, action, subject, detail)))


def verify(engine: Engine) -> int | None:
    """The first sequence number whose entry was altered, removed or reordered, or None."""
    prev = GENESIS
    with engine.connect() as c:
        for r in c.execute(select(audit).order_by(audit.c.seq)):
            expected = _chain(prev, r.at_ns, r.actor, r.action, r.subject, r.detail)
            if r.prev_hash != prev or r.hash != expected:
                return int(r.seq)
            prev = r.hash
    return None


def entry(r: Any) -> AuditEntry:
    return AuditEntry(seq=r.seq, at_ns=r.at_ns, actor=r.actor, action=r.action, subject=r.subject,
                      hash=r.hash)


def _chain(prev: str, at_ns: int, actor: str, action: str, subject: str, detail: str) -> str:
    fields = (prev, str(at_ns), actor, action, subject, detail)
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()
