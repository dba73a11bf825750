"""Authorisation matrix: every role x every endpoint x own/other contributor's data gives exactly
the specified answer, over HTTP, on both backends. A new endpoint fails this test until the
matrix says who may call it."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.policies import Policies
from deskscribe.collector.schema import datasets
from deskscribe.envelope import wrap_key
from tests.support import Served, enrol

ROLES = ("contributor", "other_contributor", "steward", "ml_engineer", "auditor", "anonymous")
PUBLIC = {("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/docs"),
          ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"), ("POST", "/v1/enrol"),
          ("GET", "/v1/collector-key")}
# (method, path, body, {role: status}); a role not named gets 403, or 401 without a credential.
# {sid} is the contributor's session, so for other_contributor it is someone else's data.
OWN = {"contributor": 200}
SELF = {"contributor": 200, "other_contributor": 200}  # /me: each caller's own data only
ENROLLED = {r: 200 for r in ROLES if r != "anonymous"}
POLICY = 'version = "7"\ndesignated_apps = ["XTerm"]\n'
DS = "d5d5d5d5d5d5d5d5"  # a dataset on record (its build is tested elsewhere)
# A callable body is made per caller (its own contributor id and the collector's key).
MATRIX: list[tuple[str, str, object, dict[str, int]]] = [
    ("GET", "/v1/me/sessions", None, SELF),
    ("GET", "/v1/me/audit", None, SELF),
    ("PUT", "/v1/me/key", lambda who: {"wrapped": wrapped_for(who)}, {"contributor": 204, "other_contributor": 204}),
    ("POST", "/v1/me/consent", {"entries": [{"at_ns": 1, "action": "accept", "notice_version": "n-1"}]}, SELF),
    ("GET", "/v1/me/consent", None, SELF),
    ("GET", "/v1/policy", None, ENROLLED),
    ("POST", "/v1/admin/policies", {"toml": POLICY.replace("7", "8")}, {"steward": 201}),
    ("PUT", "/v1/admin/regions/DE", {"dpia_ref": "DPIA-2026-01"}, {"steward": 200}),
    ("GET", "/v1/datasets", None, {"steward": 200, "ml_engineer": 200}),
    ("POST", "/v1/datasets", {"format": "jsonl"}, {"steward": 409}),  # fewer than 10 people: refused
    ("POST", f"/v1/datasets/{DS}/rebuild", None, {"steward": 409}),
    ("GET", f"/v1/datasets/{DS}/files", None, {"ml_engineer": 200}),
    ("GET", f"/v1/datasets/{DS}/files/README.md", None, {"ml_engineer": 200}),
    ("PUT", "/v1/sessions/{sid}/chunks/{idx}", b"chunk", {"contributor": 201}),
    ("GET", "/v1/sessions/{sid}/chunks", None, OWN),
    ("GET", "/v1/sessions/{sid}/chunks/0", None, OWN),
    ("POST", "/v1/admin/enrol-codes", {"role": "contributor"}, {"steward": 201}),
    ("GET", "/v1/audit", None, {"auditor": 200}),
    ("GET", "/v1/stats", None, {"steward": 409}),  # the policy makes no fleet statistics
    ("POST", "/v1/sessions/{sid}/complete", {"chunks": 0}, OWN),
    ("DELETE", "/v1/me", None, SELF),  # last: it erases each contributor that calls it
]


def wrapped_for(who: dict[str, str]) -> str:
    data_key = b"k" * 32
    wrapped = wrap_key(data_key, recipient=base64.b64decode(who["collector_key"]), contributor=who["contributor_id"])
    return base64.b64encode(wrapped).decode()


def a_dataset_on_record(served: Served, tmp: Path) -> None:
    (tmp / "staged").mkdir()
    (tmp / "staged" / "README.md").write_text("card")
    wrapped = DatasetBuilds(store=served.store).seal_files(DS, tmp / "staged")
    with served.store.engine.begin() as c:
        c.execute(datasets.insert().values(id=DS, fmt="jsonl", precision_ms=100, state="ready", created_ns=1,
                                           contributors=10, sessions=10, episodes=1, steps=1, bytes=1, key=wrapped))


def test_every_role_gets_exactly_the_specified_answer(served: Served, tmp_path: Path) -> None:
    enrolled = {r: enrol(served, "contributor" if r == "other_contributor" else r)
                for r in ROLES if r != "anonymous"}
    tokens = {r: e["token"] for r, e in enrolled.items()}
    Policies(store=served.store).publish(POLICY, actor="test")
    a_dataset_on_record(served, tmp_path)
    with served.client(tokens["contributor"]) as c:
        assert c.put("/v1/sessions/own/chunks/0", content=b"zero",
                     headers={"X-Content-SHA256": hashlib.sha256(b"zero").hexdigest()}).status_code == 201
    for method, path, body, allowed in MATRIX:
        for role in ROLES:
            url = path.format(sid="own", idx=1)  # chunk 0 exists; only the owner's 1 is stored
            kwargs: dict[str, object] = {}
            if isinstance(body, bytes):
                kwargs = {"content": body, "headers": {"X-Content-SHA256": hashlib.sha256(body).hexdigest()}}
            elif callable(body):
                kwargs = {"json": body(enrolled.get(role, enrolled["contributor"]))}
            elif body is not None:
                kwargs = {"json": {"chunks": 2} if body == {"chunks": 0} else body}
            with served.client(tokens.get(role)) as c:
                r = c.request(method, url, **kwargs)  # type: ignore[arg-type]
            status = r.status_code
            if status == 200 and path == "/v1/me/sessions" and role == "other_contributor":
                assert r.json()["sessions"] == []  # the other contributor's own: none
            expected = allowed.get(role, 401 if role == "anonymous" else 403)
            assert status == expected, f"{role} {method} {url}: {status}, expected {expected}"

    with served.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    served_routes = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    covered = {(m, p.replace(DS, "{dataset_id}").replace("README.md", "{name}").replace("/DE", "/{region}"))
               for m, p, *_ in MATRIX} | {("PUT", "/v1/sessions/{session_id}/chunks/{idx}"),
                                                 ("GET", "/v1/sessions/{session_id}/chunks"),
                                                 ("GET", "/v1/sessions/{session_id}/chunks/{idx}"),
                                                 ("POST", "/v1/sessions/{session_id}/complete")}
    unexpected = served_routes - covered - PUBLIC
    assert unexpected == set(), f"endpoints missing from the authorisation matrix: {unexpected}"


def test_no_endpoint_reports_on_people(served: Served) -> None:
    """Invariant 5: nothing per person (activity, idle, speed, ranking) is served to anyone."""
    with served.client() as c:
        doc = c.get("/openapi.json").json()
    paths = doc["paths"]
    words = ("activity", "idle", "speed", "rank", "productiv", "leaderboard", "stats", "users", "people")
    # /v1/stats is the fleet's weekly counts by app and action: cells only, no person in them
    assert [p for p in paths if any(w in p.lower() for w in words) and p != "/v1/stats"] == []
    assert set(doc["components"]["schemas"]["FleetCell"]["properties"]) == {"week", "app", "action", "count"}
