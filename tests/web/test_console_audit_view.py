"""The auditor's filters over audit entries: substrings of actor, action and subject, and a
time range in UTC; a time that is not one is refused in one line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deskscribe.collector.models import AuditEntry
from deskscribe.collector.ui.audit_view import AuditFilter, moment, selected
from deskscribe.errors import Invalid


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 10**9


ENTRIES = [AuditEntry(seq=i, at_ns=at(t), actor=actor, action=action, subject=subject, hash="h")
           for i, (t, actor, action, subject) in enumerate([
               ("2026-12-01T09:00", "local-steward", "policy_publish", "2026-11"),
               ("2026-12-02T10:30", "console-ab12", "dataset_read", "d1/README.md"),
               ("2026-12-03T23:59", "console-ab12", "dataset_read", "d1/steps.jsonl"),
               ("2026-12-04T00:00", "dev-9", "upload", "s-1"),
           ], start=1)]


@pytest.mark.parametrize(("wanted", "seqs"), [
    (AuditFilter(), [4, 3, 2, 1]),
    (AuditFilter(actor="CONSOLE"), [3, 2]),
    (AuditFilter(action="read", subject="steps"), [3]),
    (AuditFilter(since_ns=at("2026-12-02T10:30")), [4, 3, 2]),
    (AuditFilter(until_ns=at("2026-12-04T00:00")), [3, 2, 1]),  # until is exclusive
    (AuditFilter(since_ns=at("2026-12-02T00:00"), until_ns=at("2026-12-03T00:00")), [2]),
    (AuditFilter(actor="nobody"), []),
])
def test_filters_select_exactly_the_matching_entries_newest_first(wanted: AuditFilter, seqs: list[int]) -> None:
    assert [e.seq for e in selected(ENTRIES, wanted)] == seqs


def test_times_are_read_as_utc_and_nonsense_is_refused() -> None:
    assert moment("", "From") is None
    assert moment("2026-12-02T10:30", "From") == at("2026-12-02T10:30")
    assert moment("2026-12-02", "From") == at("2026-12-02T00:00")
    assert moment("2026-12-02T11:30+01:00", "From") == at("2026-12-02T10:30")
    with pytest.raises(Invalid, match="Until must be a date and time such as"):
        moment("yesterday", "Until")
