"""Instructions a contributor gives episodes in review, sealed in a file beside the session.

The session file stays exactly as it was sealed: annotations live in ``<id>.instructions``
next to it, encrypted under the same session key and bound to their own slot, replaced
atomically so a crash leaves the old or the new set, never half of one. An annotation names
its episode by the time span of its actions rather than its position, so it stays with the
episode when review deletes steps; an upload copy carries the annotations in its sealed
metadata, their times coarsened like its events'.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deskscribe.atomic_file import write_atomic
from deskscribe.sealer import Sealer

SUFFIX = ".instructions"
SLOT = "instructions"
META_KEY = "instructions"  # where an upload copy's metadata carries them


@dataclass(frozen=True, slots=True)
class Annotation:
    t_first_ns: int  # the episode's first action
    t_last_ns: int  # its end
    instruction: str  # as stored: already scanned and redacted; "" keeps the recorded one
    redacted: tuple[str, ...] = ()  # kinds of what the scan replaced
    outcome: str | None = None  # "success" or "fail" as the contributor says; None keeps the recorded one

    def holds(self, t_ns: int) -> bool:
        return self.t_first_ns <= t_ns <= self.t_last_ns

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t_first_ns": self.t_first_ns, "t_last_ns": self.t_last_ns,
                               "instruction": self.instruction, "redacted": list(self.redacted)}
        if self.outcome is not None:
            out["outcome"] = self.outcome
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Annotation:
        return cls(t_first_ns=int(raw["t_first_ns"]), t_last_ns=int(raw["t_last_ns"]),
                   instruction=str(raw["instruction"]), redacted=tuple(map(str, raw.get("redacted", ()))),
                   outcome=None if raw.get("outcome") is None else str(raw["outcome"]))


def sidecar(session_path: Path) -> Path:
    """Beside the session file, and not named ``*.db``, so it is never listed as a session."""
    return session_path.with_suffix(SUFFIX)


def read(path: Path, sealer: Sealer) -> list[Annotation]:
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return []
    return [Annotation.from_json(a) for a in json.loads(sealer.open(blob, slot=SLOT))]


def write(path: Path, sealer: Sealer, annotations: Sequence[Annotation]) -> None:
    write_atomic(path, sealer.seal(json.dumps([a.to_json() for a in annotations]).encode(), slot=SLOT))


def remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".tmp")):  # .tmp: left by versions before write_atomic
        p.unlink(missing_ok=True)


def with_annotation(existing: Iterable[Annotation], new: Annotation) -> list[Annotation]:
    """``new`` in place of any annotation of the same episode (a correction replaces); what
    ``new`` leaves unsaid (an empty instruction, no outcome) is kept from the one it replaces."""
    given = list(existing)
    same = [a for a in given if not (a.t_last_ns < new.t_first_ns or a.t_first_ns > new.t_last_ns)]
    kept = [a for a in given if a not in same]
    if same:
        old = same[-1]
        if not new.instruction:
            new = dataclasses.replace(new, instruction=old.instruction, redacted=old.redacted)
        if new.outcome is None:
            new = dataclasses.replace(new, outcome=old.outcome)
    return sorted([*kept, new], key=lambda a: a.t_first_ns)


def coarse(annotations: Iterable[Annotation], precision_ns: int) -> list[Annotation]:
    """Rounded down like the events of a copy, so each still spans its episode's actions."""
    return [dataclasses.replace(a, t_first_ns=a.t_first_ns - a.t_first_ns % precision_ns,
                                t_last_ns=a.t_last_ns - a.t_last_ns % precision_ns) for a in annotations]


def from_meta(extra: Mapping[str, Any]) -> list[Annotation]:
    return [Annotation.from_json(a) for a in extra.get(META_KEY, ())]
