"""The collector's HTTP API as contributors' devices and ML engineers call it.

One place decides what a failed request means. A lost connection or a 5xx answer may pass
(the network or the collector comes back), so it is retried with exponential backoff; a 4xx
answer means this request is wrong and stays wrong, so it is never retried. Either way the
caller gets one :class:`~deskscribe.errors.CollectorClientError` whose message says which.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict, TypeVar, cast

import httpx

from deskscribe.envelope import new_collector_key, public_of, unwrap_key
from deskscribe.errors import CollectorAnswerInvalid, CollectorRefused, CollectorUnreachable, DataKeyError
from deskscribe.sealer import dataset_file_context
from deskscribe.segments import SEGMENT_BYTES, open_chunks

RETRIES = 5
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0
TIMEOUT_S = 60.0

# The answers, field for field as the collector's models (deskscribe.collector.models) define
# them: plain JSON objects, so a device reads and caches them without any of the server's code.


class Enrolment(TypedDict):
    device_id: str
    contributor_id: str
    role: str
    token: str
    collector_key: str


class PolicyAnswer(TypedDict):
    version: str
    region: str | None
    enabled: bool
    missing: list[str]
    policy: dict[str, Any]


class ChunkList(TypedDict):
    chunks: list[int]


class ChunkStored(TypedDict):
    stored: bool


class Objection(TypedDict):
    objecting: bool


class HeldSession(TypedDict):
    id: str
    bytes: int
    chunks: int | None
    complete: bool


class HeldSessions(TypedDict):
    contributor_id: str
    sessions: list[HeldSession]


class ConsentEntry(TypedDict):
    at_ns: int
    action: str
    notice_version: str | None


class ConsentHeld(TypedDict):
    consent: list[ConsentEntry]
    key_on_file: bool


class AuditEntry(TypedDict):
    seq: int
    at_ns: int
    actor: str
    action: str
    subject: str
    hash: str


class AuditLog(TypedDict):
    entries: list[AuditEntry]


class Erased(TypedDict):
    erased_sessions: int


class Dataset(TypedDict):
    id: str
    fmt: str
    precision_ms: int
    state: str
    created_ns: int
    contributors: int
    sessions: int
    episodes: int
    steps: int
    bytes: int
    rebuild_of: str | None
    stale_reason: str | None


class DatasetList(TypedDict):
    datasets: list[Dataset]


class FileList(TypedDict):
    files: list[str]


class CollectorKey(TypedDict):
    collector_key: str


Shape = TypeVar("Shape")


class CollectorClient:
    """Every ``/v1`` call a device or an ML engineer makes, with typed answers.

    ``http`` is used as given (its base URL and headers are the caller's); without it one is
    made for ``base_url`` with ``token`` as the bearer credential, over ``transport`` if given.
    """

    def __init__(self, *, base_url: str = "", token: str | None = None,
                 transport: httpx.BaseTransport | None = None, http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, retries: int = RETRIES,
                 timeout_s: float = TIMEOUT_S, ca_pem: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # ca_pem: the only authority an https collector's certificate may come from (the
        # organisation's own CA); without it, the system's trusted authorities.
        verify: ssl.SSLContext | bool = ssl.create_default_context(cadata=ca_pem) if ca_pem else True
        self._http = http or httpx.Client(base_url=base_url, headers=headers, transport=transport,
                                          timeout=timeout_s, verify=verify)
        self._owned = http is None
        self._sleep = sleep
        self._retries = retries

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> CollectorClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- enrolment and policy -------------------------------------------------------------

    def enrol(self, code: str) -> Enrolment:
        """Exchange a one-time code for this device's credential."""
        return _read(Enrolment, self._send("POST", "/v1/enrol", json={"code": code}))

    def policy(self) -> PolicyAnswer | None:
        """The policy as it applies to this device; None while none is published."""
        r = self._send("GET", "/v1/policy", missing_ok=True)
        return None if r.status_code == 404 else _read(PolicyAnswer, r)

    # -- uploads --------------------------------------------------------------------------

    def chunks_held(self, session_id: str) -> list[int]:
        """Chunk indexes the collector holds of a session: where an upload resumes."""
        r = self._send("GET", f"/v1/sessions/{session_id}/chunks", missing_ok=True)
        return [] if r.status_code == 404 else [int(i) for i in _read(ChunkList, r)["chunks"]]

    def put_chunk(self, session_id: str, idx: int, data: bytes) -> bool:
        """Store one chunk; False when the collector held this exact chunk already."""
        r = self._send("PUT", f"/v1/sessions/{session_id}/chunks/{idx}", content=data,
                       headers={"X-Content-SHA256": hashlib.sha256(data).hexdigest()})
        return bool(_read(ChunkStored, r)["stored"])

    def complete(self, session_id: str, chunks: int) -> None:
        self._send("POST", f"/v1/sessions/{session_id}/complete", json={"chunks": chunks})

    def read_chunk(self, session_id: str, idx: int) -> bytes:
        return self._send("GET", f"/v1/sessions/{session_id}/chunks/{idx}").content

    # -- the contributor's own data -------------------------------------------------------

    def deposit_key(self, wrapped: bytes) -> None:
        """Give the collector the data key wrapped for its public key (envelope encryption)."""
        self._send("PUT", "/v1/me/key", json={"wrapped": base64.b64encode(wrapped).decode()})

    def report_consent(self, entries: Sequence[Mapping[str, object]]) -> bool:
        """Send the consent ledger (the collector ignores repeats); True when it records an objection."""
        r = self._send("POST", "/v1/me/consent", json={"entries": [dict(e) for e in entries]})
        return bool(_read(Objection, r)["objecting"])

    def my_sessions(self) -> HeldSessions:
        return _read(HeldSessions, self._send("GET", "/v1/me/sessions"))

    def my_consent(self) -> ConsentHeld:
        return _read(ConsentHeld, self._send("GET", "/v1/me/consent"))

    def my_audit(self) -> list[AuditEntry]:
        """Who read, exported or changed anything of this contributor's."""
        return _read(AuditLog, self._send("GET", "/v1/me/audit"))["entries"]

    def erase_me(self) -> int:
        """Erasure on the collector; returns how many sessions it removed."""
        return int(_read(Erased, self._send("DELETE", "/v1/me"))["erased_sessions"])

    # -- datasets -------------------------------------------------------------------------

    def datasets(self) -> list[Dataset]:
        return _read(DatasetList, self._send("GET", "/v1/datasets"))["datasets"]

    def dataset_files(self, dataset_id: str) -> list[str]:
        return _read(FileList, self._send("GET", f"/v1/datasets/{dataset_id}/files"))["files"]

    def dataset_file(self, dataset_id: str, name: str, out: Path) -> int:
        """Download one file of a ready dataset to ``out``, decrypting it segment by segment as
        it arrives (the collector logs every read); returns its size. The file comes sealed, its
        key wrapped for a key pair made for this download only; a file cut short or altered on
        the way or at rest fails, and nothing is left at ``out``."""
        me = new_collector_key()
        context = dataset_file_context(dataset_id, name)
        partial, size = out.with_name(f".{out.name}.partial"), 0
        try:
            with self._stream(f"/v1/datasets/{dataset_id}/files/{name}",
                              {"X-Deskscribe-Recipient": base64.b64encode(public_of(me)).decode()}) as r:
                if "X-Deskscribe-File-Key" not in r.headers:
                    raise CollectorAnswerInvalid(f"the collector sent {name} without its file key: it is"
                                                 " older than this client; update the collector")
                key = unwrap_key(base64.b64decode(r.headers["X-Deskscribe-File-Key"]),
                                 private=me, contributor=context)
                with open(partial, "wb") as fh:
                    for plain in open_chunks(r.iter_bytes(SEGMENT_BYTES), key=key, context=context):
                        size += fh.write(plain)
            os.replace(partial, out)
        except (DataKeyError, ValueError) as exc:
            raise CollectorAnswerInvalid(f"{name} of dataset {dataset_id} did not arrive intact ({exc});"
                                         " nothing was saved, download it again") from None
        except httpx.HTTPError as exc:
            raise CollectorUnreachable(f"the download of {name} broke off ({exc or type(exc).__name__});"
                                       " nothing was saved, download it again") from None
        finally:
            partial.unlink(missing_ok=True)
        return size

    def collector_key(self) -> bytes:
        """The collector's current public key (ML-KEM-768 + X25519), to wrap the data key for."""
        return base64.b64decode(_read(CollectorKey, self._send("GET", "/v1/collector-key"))["collector_key"])

    @contextmanager
    def _stream(self, path: str, headers: Mapping[str, str]) -> Iterator[httpx.Response]:
        """A GET whose body is read as it arrives; refusals and retries as :meth:`_send` has them."""
        delay = FIRST_DELAY_S
        for attempt in range(self._retries + 1):
            r = None
            try:
                r = self._http.send(self._http.build_request("GET", path, headers=headers), stream=True)
                if r.status_code < 400:
                    try:
                        yield r
                    finally:
                        r.close()
                    return
                r.read()
                if r.status_code < 500:
                    raise CollectorRefused(f"the collector refused GET {path}: {r.status_code} {_detail(r)}",
                                           status=r.status_code)
                problem = f"collector error {r.status_code} to GET {path}"
            except httpx.TransportError as exc:
                if r is not None:
                    raise
                problem = f"cannot reach the collector at {self._http.base_url} ({exc or type(exc).__name__})"
            if attempt == self._retries:
                raise CollectorUnreachable(problem)
            self._sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)

    # -- one request, retried -------------------------------------------------------------

    def _send(self, method: str, path: str, *, missing_ok: bool = False, content: bytes | None = None,
              json: object = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """The answer to one request, retried while the collector is unreachable or failing; a
        404 is answered as it is where ``missing_ok`` says it means "nothing there"."""
        delay = FIRST_DELAY_S
        for attempt in range(self._retries + 1):
            try:
                r = self._http.request(method, path, content=content, json=json, headers=headers)
            except httpx.TransportError as exc:
                problem = f"cannot reach the collector at {self._http.base_url} ({exc or type(exc).__name__})"
            else:
                if r.status_code < 400 or (r.status_code == 404 and missing_ok):
                    return r
                if r.status_code < 500:
                    raise CollectorRefused(f"the collector refused {method} {path}: {r.status_code}"
                                           f" {_detail(r)}", status=r.status_code)
                problem = f"collector error {r.status_code} to {method} {path}"
            if attempt == self._retries:
                again = f"; {self._retries} retries failed, try again later" if self._retries else ""
                raise CollectorUnreachable(problem + again)
            self._sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
        raise AssertionError("unreachable")


def _read(shape: type[Shape], r: httpx.Response) -> Shape:
    """The answer as ``shape`` (a TypedDict), once it holds every key the shape requires: an
    answer without them comes from something other than a collector."""
    try:
        answer = r.json()
    except ValueError:
        answer = None
    wanted: frozenset[str] = getattr(shape, "__required_keys__", frozenset())
    if not isinstance(answer, dict) or not wanted <= answer.keys():
        raise CollectorAnswerInvalid(f"the answer to {r.request.method} {r.request.url.path} is not the"
                                     f" collector's ({r.status_code} {r.text[:80]!r}); check its address")
    return cast(Shape, answer)


def _detail(r: httpx.Response) -> str:
    """What the collector said about a refusal (its ``detail``), or the start of the body."""
    try:
        return str(r.json().get("detail", r.text))
    except (ValueError, AttributeError):
        return r.text[:200]
