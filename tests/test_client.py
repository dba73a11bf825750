"""The collector client in-process: its retry rules against scripted answers (httpx's
MockTransport, delays recorded through the sleep seam instead of slept), and every call
against the real collector app (FastAPI's TestClient), whose shapes it must read exactly."""

from __future__ import annotations

import base64
import hashlib
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from deskscribe import client as api
from deskscribe.client import RETRIES, CollectorClient
from deskscribe.collector import models
from deskscribe.collector.app import create_app
from deskscribe.collector.policies import Policies
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key, wrap_key
from deskscribe.errors import CollectorAnswerInvalid, CollectorRefused, CollectorUnreachable
from deskscribe.upload import Uploader

Answer = Callable[[httpx.Request], httpx.Response]


class Scripted:
    """Answers requests from a script, one entry per request, and keeps what was asked."""

    def __init__(self, *answers: int | Exception | Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.slept: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, json={"detail": f"scripted {answer}", "chunks": [0, 2]})
        return answer(request)

    def client(self, retries: int = RETRIES) -> CollectorClient:
        return CollectorClient(base_url="http://collector.test", token="tok", transport=httpx.MockTransport(self),
                               sleep=self.slept.append, retries=retries)


def test_a_5xx_is_retried_with_backoff_until_it_succeeds() -> None:
    script = Scripted(503, 500, 200)
    assert script.client().chunks_held("s1") == [0, 2]
    assert len(script.requests) == 3 and script.slept == [0.5, 1.0]


def test_a_4xx_is_never_retried() -> None:
    script = Scripted(403)
    with pytest.raises(CollectorRefused) as refused:
        script.client().my_sessions()
    assert refused.value.status == 403 and "scripted 403" in str(refused.value)
    assert len(script.requests) == 1 and script.slept == []


def test_a_collector_that_stays_unreachable_is_reported_after_every_retry() -> None:
    script = Scripted(httpx.ConnectError("connection refused"))
    with pytest.raises(CollectorUnreachable) as down:
        script.client().complete("s1", 3)
    assert "cannot reach the collector at http://collector.test" in str(down.value)
    assert f"{RETRIES} retries failed" in str(down.value)
    assert len(script.requests) == RETRIES + 1 and script.slept == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_backoff_doubles_up_to_thirty_seconds() -> None:
    script = Scripted(502)
    with pytest.raises(CollectorUnreachable, match="collector error 502"):
        script.client(retries=8).erase_me()
    assert script.slept == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_without_retries_one_failure_is_the_answer() -> None:
    script = Scripted(httpx.ReadTimeout("slow"))
    with pytest.raises(CollectorUnreachable) as down:
        script.client(retries=0).policy()
    assert len(script.requests) == 1 and script.slept == [] and "retries" not in str(down.value)


def test_404_means_missing_only_where_the_call_says_so() -> None:
    script = Scripted(404)
    assert script.client().chunks_held("never-sent") == []
    assert script.client().policy() is None  # nothing published yet
    with pytest.raises(CollectorRefused) as refused:
        script.client().read_chunk("s1", 0)
    assert refused.value.status == 404 and script.slept == []


def test_an_answer_that_is_not_the_collectors_is_said_to_be_so() -> None:
    html = Scripted(lambda r: httpx.Response(200, text="<html>captive portal</html>"))
    with pytest.raises(CollectorAnswerInvalid, match="check its address"):
        html.client().datasets()
    other = Scripted(lambda r: httpx.Response(201, json={"hello": "world"}))
    with pytest.raises(CollectorAnswerInvalid):
        other.client().enrol("CODE")


def test_requests_carry_the_credential_and_what_the_collector_checks() -> None:
    script = Scripted(lambda r: httpx.Response(201, json={"stored": True}))
    assert script.client().put_chunk("s1", 4, b"data") is True
    sent = script.requests[0]
    assert sent.headers["Authorization"] == "Bearer tok"
    assert (sent.method, sent.url.path) == ("PUT", "/v1/sessions/s1/chunks/4")
    assert sent.headers["X-Content-SHA256"] == hashlib.sha256(b"data").hexdigest() and sent.content == b"data"


# -- against the real collector app --------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CollectorStore]:
    engine = connect(f"sqlite:///{tmp_path / 'collector.db'}")
    yield CollectorStore.open(engine=engine, blobs=tmp_path / "blobs", private_key=new_collector_key())
    engine.dispose()


def as_device(store: CollectorStore, role: str = "contributor") -> tuple[CollectorClient, api.Enrolment]:
    app = create_app(store=store)
    enrolled = CollectorClient(http=TestClient(app), retries=0).enrol(store.create_enrol_code(role))
    http = TestClient(app, headers={"Authorization": f"Bearer {enrolled['token']}"})
    return CollectorClient(http=http, retries=0), enrolled


def test_a_device_enrols_uploads_sees_what_is_held_and_erases_it(store: CollectorStore, tmp_path: Path) -> None:
    Policies(store=store).publish('version = "3"\ndesignated_apps = ["XTerm"]\n', actor="test")
    client, enrolled = as_device(store)
    assert enrolled["role"] == "contributor" and len(base64.b64decode(enrolled["collector_key"])) == 1216  # ML-KEM-768 + X25519
    policy = client.policy()
    assert policy is not None and policy["enabled"] and policy["policy"]["version"] == "3"

    session = tmp_path / "s1.db"
    session.write_bytes(bytes(range(256)) * 40)  # 10 KiB: three chunks of 4 KiB
    assert client.put_chunk("s1", 1, session.read_bytes()[4096:8192]) is True  # sent before a crash
    assert Uploader(client=client, chunk_bytes=4096).upload("s1", session) == 2
    assert client.chunks_held("s1") == [0, 1, 2]
    assert b"".join(client.read_chunk("s1", i) for i in range(3)) == session.read_bytes()

    wrapped = wrap_key(b"k" * 32, recipient=base64.b64decode(enrolled["collector_key"]),
                       contributor=enrolled["contributor_id"])
    client.deposit_key(wrapped)
    assert client.report_consent([{"at_ns": 1, "action": "accept", "notice_version": "n-1"}]) is False
    held = client.my_sessions()
    assert held == {"contributor_id": enrolled["contributor_id"],
                    "sessions": [{"id": "s1", "bytes": 10240, "chunks": 3, "complete": True}]}
    assert client.my_consent() == {"consent": [{"at_ns": 1, "action": "accept", "notice_version": "n-1"}],
                                   "key_on_file": True}
    who = enrolled["contributor_id"]
    assert [(e["action"], e["subject"]) for e in client.my_audit()] == [
        ("enrol", "contributor"), ("upload", "s1"), ("export", "s1/0"), ("export", "s1/1"), ("export", "s1/2"),
        ("key_deposit", who), ("consent", who)]
    assert client.erase_me() == 1
    with pytest.raises(CollectorRefused) as gone:
        client.my_sessions()
    assert gone.value.status == 401


def test_an_ml_engineer_lists_datasets_and_a_contributor_is_refused(store: CollectorStore) -> None:
    engineer, _ = as_device(store, "ml_engineer")
    assert engineer.datasets() == []
    with pytest.raises(CollectorRefused) as refused:
        engineer.dataset_files("abcd")
    assert refused.value.status == 404
    contributor, _ = as_device(store)
    with pytest.raises(CollectorRefused) as forbidden:
        contributor.datasets()
    assert forbidden.value.status == 403 and "steward or ml_engineer" in str(forbidden.value)


def test_a_policy_not_yet_published_is_none(store: CollectorStore) -> None:
    client, _ = as_device(store)
    assert client.policy() is None


SHAPES = [(api.Enrolment, models.Enrolled), (api.PolicyAnswer, models.PolicyAnswer),
          (api.ChunkList, models.ChunkList), (api.ChunkStored, models.ChunkStored),
          (api.Objection, models.Objection), (api.HeldSession, models.HeldSession),
          (api.HeldSessions, models.HeldSessions), (api.ConsentEntry, models.ConsentEntry),
          (api.ConsentHeld, models.ConsentHeld), (api.AuditEntry, models.AuditEntry),
          (api.AuditLog, models.AuditLog), (api.Erased, models.Erased), (api.Dataset, models.Dataset),
          (api.DatasetList, models.DatasetList), (api.FileList, models.FileList)]


@pytest.mark.parametrize(("read", "served"), SHAPES, ids=[s.__name__ for _, s in SHAPES])
def test_the_client_reads_exactly_the_fields_the_collector_answers_with(read: type, served: type[BaseModel]
                                                                        ) -> None:
    assert list(typing.get_type_hints(read)) == list(served.model_fields)
