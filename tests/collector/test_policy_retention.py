"""Policy distribution with region gating, and retention enforced by the server (both backends)."""

from __future__ import annotations

import hashlib

from deskscribe.collector.retention import DAY_NS, sweep
from deskscribe.collector.schema import datasets
from deskscribe.collector.store import CollectorStore
from deskscribe.envelope import new_collector_key
from tests.support import Served, enrol

POLICY = '''version = "2026-11"
designated_apps = ["XTerm", "Gedit"]
timing_precision_ms = 200

[retention]
sessions_days = 30
datasets_days = 60

[regions.DE]
requires = ["dpia", "works_agreement"]
frames = false
'''


def test_stewards_publish_and_each_region_gets_its_rules_once_approved(served: Served) -> None:
    steward = enrol(served, "steward")["token"]
    with served.client(enrol(served)["token"]) as c:
        assert c.get("/v1/policy").status_code == 404  # nothing published yet: said, not guessed
    with served.client(steward) as c:
        assert c.post("/v1/admin/policies", json={"toml": POLICY}).json() == {"version": "2026-11"}
        assert c.post("/v1/admin/policies", json={"toml": POLICY}).status_code == 201  # same: no-op
        changed = c.post("/v1/admin/policies", json={"toml": POLICY.replace("200", "50")})
        assert changed.status_code == 409 and "raise its version" in changed.json()["detail"]
        for bad, why in (("designated_apps = [", "not valid TOML"), ('designated_apps = ["X"]', "needs a version"),
                         ('version = "9"\ndesignated_apps = "X"', "designated_apps must be a list"),
                         ('version = "9"\ndesignated_apps = ["X"]\n[regions.FR]\nrequires = ["blessing"]',
                          "unknown blessing")):
            r = c.post("/v1/admin/policies", json={"toml": bad})
            assert r.status_code == 400 and why in r.json()["detail"], (bad, r.text)
        code = c.post("/v1/admin/enrol-codes", json={"role": "contributor", "region": "DE"}).json()["code"]
    with served.client() as c:
        berlin = c.post("/v1/enrol", json={"code": code}).json()["token"]
    with served.client(enrol(served)["token"]) as c:
        here = c.get("/v1/policy").json()
    assert here["enabled"] and here["policy"]["version"] == "2026-11" and "regions" not in here["policy"]
    with served.client(berlin) as c:
        there = c.get("/v1/policy").json()
    assert there["enabled"] is False and there["missing"] == ["dpia", "works_agreement"]
    with served.client(steward) as c:
        assert c.put("/v1/admin/regions/DE", json={"dpia_ref": "DPIA-2026-014"}).json() == {"recorded": ["dpia"]}
        with served.client(berlin) as b:
            assert b.get("/v1/policy").json()["missing"] == ["works_agreement"]
        c.put("/v1/admin/regions/DE", json={"works_agreement_ref": "BV-Aufzeichnung-3"})
    with served.client(berlin) as c:
        there = c.get("/v1/policy").json()
    assert there["enabled"] and there["policy"]["frames"] is False and there["policy"]["version"] == "2026-11@DE"
    actions = [e.action for e in served.store.audit_log(served.store.authenticate(enrol(served, "auditor")["token"]))]
    assert actions.count("policy_publish") == 1 and actions.count("region_approve") == 2


def test_retention_deletes_each_stage_when_its_time_is_up(store: CollectorStore) -> None:
    now = [1_000 * DAY_NS]
    clocked = CollectorStore(engine=store.engine, blobs=store.blobs, private_key=new_collector_key(),
                             wall_ns=lambda: now[0])
    dev, _ = clocked.enrol(clocked.create_enrol_code())

    def upload(sid: str, complete: bool) -> None:
        clocked.put_chunk(dev, sid, 0, sid.encode(), hashlib.sha256(sid.encode()).hexdigest())
        if complete:
            clocked.complete(dev, sid, 1)

    upload("old", True)
    upload("stuck", False)
    with clocked.engine.begin() as c:
        c.execute(datasets.insert().values(id="aa", fmt="hf", precision_ms=100, state="ready", created_ns=now[0],
                                           contributors=10, sessions=10, episodes=1, steps=1, bytes=1))
    (clocked.blobs.root / "_datasets" / "aa").mkdir(parents=True)
    now[0] += 6 * DAY_NS
    upload("fresh", True)
    assert sweep(clocked) == {"sessions": 0, "datasets": 0}  # nothing is due yet
    now[0] += 2 * DAY_NS  # day 8: the incomplete upload is past its 7 days
    assert sweep(clocked) == {"sessions": 1, "datasets": 0}
    now[0] += 85 * DAY_NS  # day 93: the first complete session is past 90 days, the later one is not
    assert sweep(clocked) == {"sessions": 1, "datasets": 0}
    assert [s.id for s in clocked.my_sessions(dev)] == ["fresh"]
    assert sorted(p.name for p in (clocked.blobs.root / dev.contributor_id).iterdir()) == ["fresh"]
    now[0] += 300 * DAY_NS
    assert sweep(clocked) == {"sessions": 1, "datasets": 1}
    assert not (clocked.blobs.root / "_datasets" / "aa").exists()
    with clocked.engine.connect() as c:
        assert c.execute(datasets.select()).first().state == "expired"
    assert clocked.audit_verify() is None


def test_retention_follows_the_published_policy(store: CollectorStore) -> None:
    from deskscribe.collector.policies import Policies

    now = [1_000 * DAY_NS]
    clocked = CollectorStore(engine=store.engine, blobs=store.blobs, private_key=new_collector_key(),
                             wall_ns=lambda: now[0])
    Policies(store=clocked).publish(POLICY, actor="test")  # sessions_days = 30
    dev, _ = clocked.enrol(clocked.create_enrol_code())
    clocked.put_chunk(dev, "s", 0, b"s", hashlib.sha256(b"s").hexdigest())
    clocked.complete(dev, "s", 1)
    now[0] += 29 * DAY_NS
    assert sweep(clocked)["sessions"] == 0
    now[0] += 2 * DAY_NS
    assert sweep(clocked)["sessions"] == 1
