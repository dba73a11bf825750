"""The audit log as an auditor reads it: entries filtered by actor, action, subject and time,
and where the hash chain breaks. Pure: the entries come from the store's audited read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from deskscribe.collector.models import AuditEntry
from deskscribe.errors import Invalid

SHOWN = 1000  # newest entries a page lists; the filters narrow the rest


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    subject: str = ""
    since_ns: int | None = None
    until_ns: int | None = None

    def matches(self, e: AuditEntry) -> bool:
        return (self.actor.lower() in e.actor.lower() and self.action.lower() in e.action.lower()
                and self.subject.lower() in e.subject.lower()
                and (self.since_ns is None or e.at_ns >= self.since_ns)
                and (self.until_ns is None or e.at_ns < self.until_ns))


def moment(text: str, name: str) -> int | None:
    """A time typed as YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], in UTC."""
    text = text.strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{name} must be a date and time such as 2026-12-04T09:30 (UTC), not {text!r}"
                      ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp()) * 10**9


def selected(entries: Iterable[AuditEntry], wanted: AuditFilter) -> list[AuditEntry]:
    """Matching entries, newest first."""
    return sorted((e for e in entries if wanted.matches(e)), key=lambda e: e.seq, reverse=True)
