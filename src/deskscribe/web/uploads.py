"""Uploads started from a page: one thread per session, with progress a page polls.

The sending itself is the caller's (``send(session_id, progress)``), the same steps
`deskscribe upload` takes; this only runs it off the request and remembers how far it got.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from deskscribe.errors import DeskscribeError

Progress = Callable[[int, int], None]
Send = Callable[[str, Progress], None]


@dataclass(frozen=True, slots=True)
class UploadState:
    session_id: str
    done: int = 0  # chunks the collector holds
    total: int = 0
    status: str = "starting"  # starting | sending | uploaded | failed
    message: str = ""

    def to_json(self) -> dict[str, object]:
        return {"session_id": self.session_id, "done": self.done, "total": self.total,
                "status": self.status, "message": self.message}


class Uploads:
    def __init__(self, *, send: Send, on_done: Callable[[str], None] = lambda sid: None) -> None:
        self._send = send
        self._on_done = on_done
        self._lock = threading.Lock()
        self._states: dict[str, UploadState] = {}
        self._threads: dict[str, threading.Thread] = {}

    def start(self, session_id: str) -> UploadState:
        """Start sending, unless it is being sent already."""
        with self._lock:
            running = self._threads.get(session_id)
            if running is not None and running.is_alive():
                return self._states[session_id]
            self._states[session_id] = UploadState(session_id)
            thread = threading.Thread(target=self._run, args=(session_id,), name=f"upload-{session_id}",
                                      daemon=True)
            self._threads[session_id] = thread
            thread.start()
            return self._states[session_id]

    def state(self, session_id: str) -> UploadState | None:
        with self._lock:
            return self._states.get(session_id)

    def _set(self, session_id: str, **changes: object) -> None:
        with self._lock:
            self._states[session_id] = replace(self._states[session_id], **changes)  # type: ignore[arg-type]

    def _run(self, session_id: str) -> None:
        def progress(done: int, total: int) -> None:
            self._set(session_id, done=done, total=total, status="sending")

        try:
            self._send(session_id, progress)
        except DeskscribeError as exc:
            self._set(session_id, status="failed", message=str(exc))
        except OSError as exc:
            self._set(session_id, status="failed", message=f"{exc.strerror or exc}")
        else:
            self._set(session_id, status="uploaded", message="the collector holds the whole session")
        finally:
            self._on_done(session_id)

    def join(self, timeout_s: float = 30.0) -> None:
        """Wait for uploads still running (the server is stopping)."""
        for thread in list(self._threads.values()):
            thread.join(timeout_s)
