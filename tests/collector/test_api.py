"""The collector over real HTTP, against SQLite and a real PostgreSQL (same tests for both)."""

from __future__ import annotations

import hashlib
import os

import httpx
from sqlalchemy import text

from tests.support import Served, enrol


def put(c: httpx.Client, sid: str, idx: int, data: bytes, sha: str | None = None) -> httpx.Response:
    return c.put(f"/v1/sessions/{sid}/chunks/{idx}", content=data,
                 headers={"X-Content-SHA256": sha or hashlib.sha256(data).hexdigest()})


def test_an_enrolment_code_works_once(served: Served) -> None:
    code = served.store.create_enrol_code()
    with served.client() as c:
        first = c.post("/v1/enrol", json={"code": code})
        again = c.post("/v1/enrol", json={"code": code})
        wrong = c.post("/v1/enrol", json={"code": "not-a-code"})
    assert first.status_code == 201 and again.status_code == 403 and wrong.status_code == 403
    assert "already used" in again.json()["detail"]


def test_credentials_are_stored_hashed_and_revocable(served: Served) -> None:
    dev = enrol(served)
    with served.store.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT token_hash FROM devices"))]
    assert dev["token"] not in stored and hashlib.sha256(dev["token"].encode()).hexdigest() in stored
    with served.client(dev["token"]) as c:
        assert c.get("/v1/me/sessions").status_code == 200
        served.store.revoke(dev["device_id"])
        assert c.get("/v1/me/sessions").status_code == 401
    with served.client("made-up") as c:
        assert c.get("/v1/me/sessions").status_code == 401
    with served.client() as c:
        assert c.get("/v1/me/sessions").status_code == 401


def test_upload_is_idempotent_and_resumable(served: Served) -> None:
    dev = enrol(served)
    parts = [os.urandom(1000), os.urandom(1000), os.urandom(10)]
    with served.client(dev["token"]) as c:
        assert put(c, "s1", 0, parts[0]).status_code == 201
        assert put(c, "s1", 0, parts[0]).status_code == 200  # a retry stores nothing twice
        assert c.get("/v1/sessions/s1/chunks").json() == {"chunks": [0]}  # where to resume
        assert c.post("/v1/sessions/s1/complete", json={"chunks": 3}).status_code == 409
        for i, p in enumerate(parts[1:], start=1):
            assert put(c, "s1", i, p).status_code == 201
        assert c.post("/v1/sessions/s1/complete", json={"chunks": 3}).status_code == 200
        assert c.post("/v1/sessions/s1/complete", json={"chunks": 3}).status_code == 200
        assert put(c, "s1", 3, b"late").status_code == 409  # complete sessions do not change
        mine = c.get("/v1/me/sessions").json()["sessions"]
    assert mine == [{"id": "s1", "bytes": 2010, "chunks": 3, "complete": True}]
    blobs = sorted(p.read_bytes() for p in served.store.blobs.root.rglob("*") if p.is_file())
    assert blobs == sorted(parts)


def test_malformed_uploads_are_refused_and_store_nothing(served: Served) -> None:
    dev = enrol(served)
    with served.client(dev["token"]) as c:
        assert put(c, "s1", 0, b"data", sha="0" * 64).status_code == 400
        assert put(c, "s1", 0, b"data", sha="short").status_code == 422
        assert put(c, "s1", -1, b"data").status_code == 422
        assert put(c, "bad id!", 0, b"data").status_code in (404, 422)
        assert put(c, "s1", 0, b"").status_code == 400
        assert c.post("/v1/sessions/s1/complete", json={"chunks": 0}).status_code == 422
        assert put(c, "s1", 0, b"first").status_code == 201
        assert put(c, "s1", 0, b"other").status_code == 409  # same slot, other content
    assert [p.read_bytes() for p in served.store.blobs.root.rglob("*") if p.is_file()] == [b"first"]


def test_a_device_reaches_only_its_own_contributors_sessions(served: Served) -> None:
    alice, bob = enrol(served), enrol(served)
    with served.client(alice["token"]) as a, served.client(bob["token"]) as b:
        assert put(a, "s-alice", 0, b"a").status_code == 201
        assert put(b, "s-alice", 1, b"b").status_code == 403
        assert b.get("/v1/sessions/s-alice/chunks").status_code == 403
        assert b.post("/v1/sessions/s-alice/complete", json={"chunks": 1}).status_code == 403
        assert b.get("/v1/me/sessions").json()["sessions"] == []
        assert [s["id"] for s in a.get("/v1/me/sessions").json()["sessions"]] == ["s-alice"]


def test_only_contributor_devices_upload(served: Served) -> None:
    steward = enrol(served, role="steward")
    with served.client(steward["token"]) as c:
        assert put(c, "s1", 0, b"x").status_code == 403


def test_audit_log_is_a_chain_that_shows_tampering(served: Served) -> None:
    dev = enrol(served)
    with served.client(dev["token"]) as c:
        put(c, "s1", 0, b"x")
        c.post("/v1/sessions/s1/complete", json={"chunks": 1})
    assert served.store.audit_verify() is None
    with served.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit SET subject = 'someone-else' WHERE action = 'upload'"))
    assert served.store.audit_verify() == 3  # enrol_code, enrol, then the altered upload


def test_health_and_metrics_carry_nothing_per_person(served: Served) -> None:
    devs = [enrol(served) for _ in range(10)]
    for i, dev in enumerate(devs):
        with served.client(dev["token"]) as c:
            put(c, f"s{i}", 0, b"12345")
            if i < 9:
                c.post(f"/v1/sessions/s{i}/complete", json={"chunks": 1})
            if i == 8:  # nine people uploaded: any upload figure would span too few
                body = served.client().get("/metrics").text
                assert "deskscribe_upload_figures_withheld 1" in body and "bytes_received" not in body
                assert "deskscribe_devices 10" in body
    with served.client() as c:
        assert c.get("/healthz").json() == {"ok": True}
        body = c.get("/metrics").text
        spec = c.get("/openapi.json").json()
    assert "deskscribe_upload_figures_withheld 0" in body and "deskscribe_bytes_received 50" in body
    assert "deskscribe_uploads_incomplete 1" in body and "deskscribe_oldest_incomplete_upload_seconds" in body
    for dev in devs:
        assert dev["contributor_id"] not in body and dev["device_id"] not in body and "{" not in body
    assert "/v1/enrol" in spec["paths"]


def test_contributors_see_who_touched_their_data_and_nothing_else(served: Served) -> None:
    alice, bob = enrol(served), enrol(served)
    with served.client(alice["token"]) as a, served.client(bob["token"]) as b:
        put(a, "s-a", 0, b"a")
        a.post("/v1/sessions/s-a/complete", json={"chunks": 1})
        a.get("/v1/sessions/s-a/chunks/0")
        put(b, "s-b", 0, b"b")
        b.post("/v1/sessions/s-b/complete", json={"chunks": 1})
        mine = a.get("/v1/me/audit").json()["entries"]
    assert [(e["action"], e["subject"]) for e in mine if e["action"] != "enrol"] == [
        ("upload", "s-a"), ("export", "s-a/0")]
    assert all("s-b" not in e["subject"] and e["actor"] != bob["device_id"] for e in mine)


def test_the_migrations_build_exactly_the_schema_the_code_uses(served: Served) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from deskscribe.collector.schema import metadata

    with served.store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == "0005"
        assert compare_metadata(ctx, metadata) == []
