"""What waits to leave the device: the contributor's approvals and the copies made for upload.

Approvals live in ``outbox.json``, replaced atomically so they survive crashes and restarts.
Upload copies live in ``outbox/`` beside it, made once per session and kept until the session
is uploaded, so a resumed upload sends the same bytes. Both name session ids, so erasure
removes both together.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from deskscribe.atomic_file import write_atomic
from deskscribe.errors import StoreError

STATE_FILE = "outbox.json"
COPIES_DIR = "outbox"

State = dict[str, dict[str, float]]


class Outbox:
    """Which sessions the contributor approved for upload, which have gone, and their copies."""

    def __init__(self, *, root: Path, wall_s: Callable[[], float] = time.time) -> None:
        self.path = root / STATE_FILE
        self.copies_dir = root / COPIES_DIR
        self._wall_s = wall_s

    def _read(self) -> State:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"approved": {}, "uploaded": {}}
        except (OSError, ValueError) as exc:
            raise StoreError(f"the outbox {self.path} is damaged ({exc});"
                             " delete it and approve again") from None
        return {"approved": dict(raw.get("approved", {})), "uploaded": dict(raw.get("uploaded", {}))}

    def _write(self, state: State) -> None:
        write_atomic(self.path, json.dumps(state, indent=1).encode())

    def approve(self, session_id: str) -> None:
        state = self._read()
        state["approved"].setdefault(session_id, self._wall_s())
        self._write(state)

    def mark_uploaded(self, session_id: str) -> None:
        """Once the collector holds it, the upload copy has done its work."""
        state = self._read()
        state["uploaded"][session_id] = self._wall_s()
        self._write(state)
        self.drop_copy(session_id)

    def forget(self, session_id: str) -> None:
        state = self._read()
        for part in state.values():
            part.pop(session_id, None)
        self._write(state)

    def auto_approve(self, sealed_at: dict[str, float], hours: float) -> list[str]:
        """Approve sessions sealed more than ``hours`` ago that are not approved yet (the
        policy's auto-approval, announced in the notice); returns them."""
        state = self._read()
        due = [s for s, at in sorted(sealed_at.items(), key=lambda kv: kv[1])
               if s not in state["approved"] and self._wall_s() - at >= hours * 3600]
        for s in due:
            state["approved"][s] = self._wall_s()
        if due:
            self._write(state)
        return due

    def approved(self) -> set[str]:
        return set(self._read()["approved"])

    def pending(self) -> list[str]:
        """Approved and not uploaded yet, oldest approval first."""
        state = self._read()
        return sorted((s for s in state["approved"] if s not in state["uploaded"]),
                      key=lambda s: state["approved"][s])

    def copy_path(self, session_id: str) -> Path:
        return self.copies_dir / f"{session_id}.db"

    def upload_copy(self, session_id: str, *, write: Callable[[str, Path], None]) -> Path:
        """The copy of a session that is uploaded, made by ``write(session_id, path)`` the first
        time and reused after, so a resumed upload sends the same bytes."""
        dest = self.copy_path(session_id)
        if dest.exists():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = dest.with_name(dest.name + ".part")  # a copy cut short is never taken as made
        write(session_id, tmp)
        os.replace(tmp, dest)
        return dest

    def drop_copy(self, session_id: str) -> None:
        self.copy_path(session_id).unlink(missing_ok=True)

    def remove(self) -> None:
        """Erasure: the outbox names session ids, so it goes with them, copies and all."""
        for path in (self.path, self.path.with_suffix(".tmp")):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.copies_dir, ignore_errors=True)
