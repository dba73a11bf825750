"""Sending sealed sessions to the collector: chunked, idempotent, resumable.

The server is asked which chunks it already holds, so an upload cut by a crash or a lost
network continues where it stopped; a chunk sent twice is stored once. Network failures and
5xx answers are retried with backoff; a 4xx answer means the request itself is wrong and is
reported, never retried.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from deskscribe.errors import CollectorClientError

CHUNK_BYTES = 1024 * 1024
RETRIES = 5


class UploadError(CollectorClientError):
    """The collector refused the upload or stayed unreachable; the message says which."""


class Uploader:
    def __init__(self, *, client: httpx.Client, chunk_bytes: int = CHUNK_BYTES,
                 sleep: Callable[[float], None] = time.sleep,
                 max_bytes_per_s: float | None = None) -> None:
        self._client = client
        self._chunk = chunk_bytes
        self._sleep = sleep
        self._rate = max_bytes_per_s

    def upload(self, session_id: str, path: Path, progress: Callable[[int, int], None] = lambda d, t: None
               ) -> int:
        """Send what the server lacks of ``path``; returns how many chunks were sent now."""
        data = path.read_bytes()
        if not data:
            raise UploadError(f"{path} is empty; nothing to upload")
        parts = [data[i:i + self._chunk] for i in range(0, len(data), self._chunk)]
        have = set(self._have(session_id))
        sent = 0
        for idx, part in enumerate(parts):
            if idx not in have:
                started = time.monotonic()
                self._request("PUT", f"/v1/sessions/{session_id}/chunks/{idx}", content=part,
                              headers={"X-Content-SHA256": hashlib.sha256(part).hexdigest()})
                sent += 1
                self._throttle(len(part), time.monotonic() - started)
            progress(idx + 1, len(parts))
        self._request("POST", f"/v1/sessions/{session_id}/complete", json={"chunks": len(parts)})
        return sent

    def deposit_key(self, wrapped: bytes) -> None:
        """Give the collector the data key wrapped for its public key (envelope encryption)."""
        self._request("PUT", "/v1/me/key", json={"wrapped": base64.b64encode(wrapped).decode()})

    def report_consent(self, entries: list[dict[str, object]]) -> bool:
        """Send the consent ledger (the server ignores repeats); True when it records an objection."""
        r = self._request("POST", "/v1/me/consent", json={"entries": entries})
        return r is not None and bool(r.json()["objecting"])

    def _have(self, session_id: str) -> list[int]:
        r = self._request("GET", f"/v1/sessions/{session_id}/chunks", missing_ok=True)
        return [] if r is None else [int(i) for i in r.json()["chunks"]]

    def _throttle(self, size: int, took: float) -> None:
        if self._rate:
            self._sleep(max(0.0, size / self._rate - took))

    def _request(self, method: str, url: str, *, missing_ok: bool = False, **kw: object
                 ) -> httpx.Response | None:
        delay = 0.5
        for attempt in range(RETRIES + 1):
            try:
                r = self._client.request(method, url, **kw)  # type: ignore[arg-type]
            except httpx.TransportError as exc:
                problem = f"collector unreachable ({exc})"
            else:
                if r.status_code == 404 and missing_ok:
                    return None
                if r.status_code < 400:
                    return r
                if r.status_code < 500:
                    raise UploadError(f"collector refused {method} {url}: {r.status_code} {_detail(r)}")
                problem = f"collector error {r.status_code}"
            if attempt == RETRIES:
                raise UploadError(f"{problem}; {RETRIES} retries failed, run the upload again later")
            self._sleep(delay)
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail", r.text))
    except ValueError:
        return r.text[:200]


class Outbox:
    """Which sessions the contributor approved for upload, and which have gone. A JSON file in
    the data dir, replaced atomically, so it survives crashes and restarts."""

    def __init__(self, *, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock

    def _read(self) -> dict[str, dict[str, float]]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"approved": {}, "uploaded": {}}
        except (OSError, ValueError) as exc:
            raise UploadError(f"the outbox {self.path} is damaged ({exc});"
                              " delete it and approve again") from None
        return {"approved": dict(raw.get("approved", {})), "uploaded": dict(raw.get("uploaded", {}))}

    def _write(self, state: dict[str, dict[str, float]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.path)

    def approve(self, session_id: str) -> None:
        state = self._read()
        state["approved"].setdefault(session_id, self._clock())
        self._write(state)

    def mark_uploaded(self, session_id: str) -> None:
        state = self._read()
        state["uploaded"][session_id] = self._clock()
        self._write(state)

    def forget(self, session_id: str) -> None:
        state = self._read()
        for part in state.values():
            part.pop(session_id, None)
        self._write(state)

    def remove(self) -> None:
        """Erasure: the outbox names session ids, so it goes with them."""
        for path in (self.path, self.path.with_suffix(".tmp")):
            path.unlink(missing_ok=True)

    def auto_approve(self, sealed_at: dict[str, float], hours: float) -> list[str]:
        """Approve sessions sealed more than ``hours`` ago that are not approved yet (the
        policy's auto-approval, announced in the notice); returns them."""
        state = self._read()
        due = [s for s, at in sorted(sealed_at.items(), key=lambda kv: kv[1])
               if s not in state["approved"] and self._clock() - at >= hours * 3600]
        for s in due:
            state["approved"][s] = self._clock()
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
