"""What publishing a policy would change, shown before the steward confirms: the document's
line diff against the current version and the notice contributors will be asked to accept."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass

from sqlalchemy import select

from deskscribe.collector.policies import MAX_POLICY_BYTES, _parse
from deskscribe.collector.schema import policies
from deskscribe.collector.store import CollectorStore
from deskscribe.errors import Invalid
from deskscribe.notice import notice_version, render_notice
from deskscribe.policy import parse_policy


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "add", "remove", "same" or "hunk"
    text: str


@dataclass(frozen=True, slots=True)
class Preview:
    version: str
    current_version: str | None
    diff: tuple[DiffLine, ...]
    notice: str
    notice_version: str
    notice_changed: bool  # contributors must acknowledge again before they are recorded
    regions: tuple[str, ...]


def current_document(store: CollectorStore) -> tuple[str, str] | None:
    """The newest published version and its TOML, as the steward wrote it."""
    with store.engine.connect() as c:
        row = c.execute(select(policies.c.version, policies.c.body)
                        .order_by(policies.c.seq.desc()).limit(1)).first()
    return None if row is None else (row.version, row.body)


def preview(body: str, current: tuple[str, str] | None) -> Preview:
    """Refuses (400) exactly what publishing would refuse for the document itself."""
    if len(body.encode()) > MAX_POLICY_BYTES:
        raise Invalid(f"a policy is at most {MAX_POLICY_BYTES // 1024} KiB")
    policy = _parse(body)
    old_notice = None
    if current is not None:
        try:
            old_notice = notice_version(parse_policy(tomllib.loads(current[1])))
        except ValueError:  # published before unknown keys were refused
            old_notice = None
    new_notice = notice_version(policy)
    return Preview(version=policy.version, current_version=current[0] if current else None,
                   diff=diff_lines(current[1] if current else "", body), notice=render_notice(policy),
                   notice_version=new_notice, notice_changed=new_notice != old_notice,
                   regions=tuple(sorted(policy.regions)))


def diff_lines(old: str, new: str) -> tuple[DiffLine, ...]:
    """A unified diff, line by line, for a page to colour (and mark for screen readers)."""
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), "current", "new", lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "remove"}.get(line[:1], "same")
        out.append(DiffLine(kind, line[1:] if kind != "hunk" else line))
    return tuple(out)
