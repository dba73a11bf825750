"""Datasets built on the collector, over HTTP on both backends: envelope keys make uploads
readable to builds only, a build spans at least 10 people, objection and erasure keep a person
out, and erasure turns every dataset built from them stale until a rebuild leaves them out."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from deskscribe.client import CollectorClient
from deskscribe.datadir import DataDir
from deskscribe.envelope import wrap_key
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend
from deskscribe.upload import Uploader
from tests.support import Served, enrol

MS = 1_000_000


@dataclass
class Person:
    name: str
    enrolled: dict[str, str]
    dd: DataDir
    session: str

    def client(self, served: Served) -> httpx.Client:
        return served.client(self.enrolled["token"])

    def deposit_key(self, served: Served) -> None:
        wrapped = wrap_key(self.dd.data_key(), recipient=base64.b64decode(self.enrolled["collector_key"]),
                           contributor=self.enrolled["contributor_id"])
        with self.client(served) as c:
            CollectorClient(http=c).deposit_key(wrapped)


def typed_session(dd: DataDir, text: str) -> str:
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=1_700_000_000 * 10**9,
                              os="Linux", monitors=(Monitor(0, 0, 1000, 500),), double_click_ms=400,
                              double_click_px=5, policy_version="p", recorder_version="r"))
    w.add_event(Event(t_ns=10 * MS, kind="focus", data={"app": "XTerm", "title": "notes", "pid": 1,
                                                        "geometry": [0, 0, 1000, 500]}))
    w.add_event(Event(t_ns=100 * MS, kind="mouse_down", data={"x": 100, "y": 250, "button": "left"}))
    w.add_event(Event(t_ns=150 * MS, kind="mouse_up", data={"x": 100, "y": 250, "button": "left"}))
    for i, ch in enumerate(text):
        t = (1000 + 80 * i) * MS
        w.add_event(Event(t_ns=t, kind="key_down", data={"key": ch, "char": ch, "vk": 0, "mods": []}))
        w.add_event(Event(t_ns=t + 30 * MS, kind="key_up", data={"key": ch, "char": ch, "vk": 0, "mods": []}))
    w.close(seal=True)
    return sid


def people(served: Served, tmp: Path, n: int) -> list[Person]:
    out = []
    for i in range(n):
        root = tmp / f"person{i}"
        dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
        sid = typed_session(dd, f"canary{i:02d}text")
        who = Person(f"person{i}", enrol(served), dd, sid)
        with who.client(served) as c:
            Uploader(client=CollectorClient(http=c)).upload(sid, dd.path_of(sid))
        out.append(who)
    return out


def build(served: Served, steward: str, path: str = "/v1/datasets", **body: object
          ) -> tuple[int, dict[str, object]]:
    """Start a build and wait until it is no longer building (builds run in the background)."""
    with served.client(steward) as c:
        r = c.post(path, json={"format": "hf", **body})
        if r.status_code != 202:
            return r.status_code, r.json()
        assert r.json()["state"] == "building"
        deadline = time.monotonic() + 120
        while True:
            rows = {d["id"]: d for d in c.get("/v1/datasets").json()["datasets"]}
            if rows[r.json()["id"]]["state"] != "building":
                return 202, rows[r.json()["id"]]
            assert time.monotonic() < deadline, "the build did not finish"
            time.sleep(0.1)


def pull(served: Served, engineer: str, ds: str, out: Path) -> list[str]:
    with served.client(engineer) as c:
        names = c.get(f"/v1/datasets/{ds}/files").json()["files"]
        for name in names:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(c.get(f"/v1/datasets/{ds}/files/{name}").content)
    return names


def typed_texts(root: Path) -> list[str]:
    table = pq.read_table(sorted(root.rglob("*.parquet")))
    return [a["text"] for a in table.column("action").to_pylist() if a and a.get("text")]


def test_a_dataset_spans_ten_people_and_erasure_makes_it_stale_until_rebuilt(served: Served, tmp_path: Path) -> None:
    steward, engineer = enrol(served, "steward")["token"], enrol(served, "ml_engineer")["token"]
    crowd = people(served, tmp_path, 11)
    for p in crowd[:9]:
        p.deposit_key(served)
    status, body = build(served, steward)  # two people's sessions cannot be read without their key
    assert status == 409 and "at least 10 contributors; 9" in str(body["detail"])

    for p in crowd[9:]:
        p.deposit_key(served)
    status, first = build(served, steward)
    assert status == 202 and first["state"] == "ready" and first["contributors"] == 11 and first["sessions"] == 11
    names = pull(served, engineer, str(first["id"]), tmp_path / "first")
    assert "README.md" in names
    texts = typed_texts(tmp_path / "first")
    assert sorted(texts) == sorted(f"canary{i:02d}text" for i in range(11))
    from datasets import load_dataset  # the library ML teams load it with

    loaded = load_dataset("parquet", data_files=[str(p) for p in (tmp_path / "first").rglob("*.parquet")],
                          split="train")
    assert loaded.num_rows == first["steps"]

    alice = crowd[0]
    with alice.client(served) as c:  # she sees the build and every read of it
        seen = [(e["action"], e["subject"]) for e in c.get("/v1/me/audit").json()["entries"]]
        assert ("dataset_build", first["id"]) in seen and ("dataset_read", f"{first['id']}/README.md") in seen
        assert c.delete("/v1/me").json() == {"erased_sessions": 1}
    with served.client(engineer) as c:
        listed = {d["id"]: d for d in c.get("/v1/datasets").json()["datasets"]}
        assert listed[first["id"]]["state"] == "stale"
        assert c.get(f"/v1/datasets/{first['id']}/files").status_code == 409
    assert not (served.store.blobs.root / "_datasets" / str(first["id"])).exists()
    assert served.store.data_key(alice.enrolled["contributor_id"]) is None

    status, second = build(served, steward, f"/v1/datasets/{first['id']}/rebuild")
    assert status == 202 and second["state"] == "ready"
    assert second["contributors"] == 10 and second["rebuild_of"] == first["id"]
    pull(served, engineer, str(second["id"]), tmp_path / "second")
    texts = typed_texts(tmp_path / "second")
    assert "canary00text" not in texts and sorted(texts) == sorted(f"canary{i:02d}text" for i in range(1, 11))
    everything = b"".join(p.read_bytes() for p in served.store.blobs.root.rglob("*") if p.is_file())
    assert b"canary00text" not in everything  # and only ciphertext of anyone else is stored
    assert b"canary01text" not in everything  # sessions and the built dataset are encrypted at rest
    assert any(b"canary01text" in p.read_bytes() for p in (tmp_path / "second").rglob("*.parquet"))


def test_an_objection_stops_uploads_and_keeps_the_person_out_of_builds(served: Served, tmp_path: Path) -> None:
    steward = enrol(served, "steward")["token"]
    crowd = people(served, tmp_path, 11)
    for p in crowd:
        p.deposit_key(served)
    bob = crowd[1]
    with bob.client(served) as c:
        r = c.post("/v1/me/consent", json={"entries": [
            {"at_ns": 1, "action": "accept", "notice_version": "n-1"}, {"at_ns": 2, "action": "withdraw"}]})
        assert r.json() == {"objecting": True}
        refused = c.put("/v1/sessions/another/chunks/0", content=b"x",
                        headers={"X-Content-SHA256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"})
        assert refused.status_code == 403 and "withdrew consent" in refused.json()["detail"]
    status, ds = build(served, steward, format="jsonl")
    assert status == 202 and ds["contributors"] == 10
    with bob.client(served) as c:  # acknowledging again lifts the objection
        r = c.post("/v1/me/consent", json={"entries": [{"at_ns": 3, "action": "accept", "notice_version": "n-2"}]})
        assert r.json() == {"objecting": False}
    assert build(served, steward, format="jsonl")[1]["contributors"] == 11


def test_a_key_wrapped_for_someone_else_is_refused(served: Served, tmp_path: Path) -> None:
    alice, bob = people(served, tmp_path, 2)
    wrapped = wrap_key(alice.dd.data_key(), recipient=base64.b64decode(alice.enrolled["collector_key"]),
                       contributor=bob.enrolled["contributor_id"])  # replayed as bob's: the binding fails
    with alice.client(served) as c:
        r = c.put("/v1/me/key", json={"wrapped": base64.b64encode(wrapped).decode()})
        assert r.status_code == 400 and "not wrapped for this collector" in r.json()["detail"]
        assert c.put("/v1/me/key", json={"wrapped": "!!"}).status_code == 400
    assert served.store.keyed_contributors() == set()


def test_an_erasure_during_a_build_keeps_that_build_from_being_served(served: Served, tmp_path: Path) -> None:
    from deskscribe.collector.build_engine import LocalEngine
    from deskscribe.collector.datasets import DatasetBuilds
    from deskscribe.collector.erasure import erase

    crowd = people(served, tmp_path, 10)
    for p in crowd:
        p.deposit_key(served)
    class ErasingMidway(LocalEngine):
        def export(self, **kwargs):  # type: ignore[no-untyped-def]
            out = super().export(**kwargs)  # her key is already unwrapped in memory here
            erase(served.store, served.store.authenticate(crowd[3].enrolled["token"]))
            return out

    builds = DatasetBuilds(store=served.store, build_engine=ErasingMidway(scratch=served.store.scratch))
    steward = served.store.authenticate(enrol(served, "steward")["token"])
    row = builds.start(steward, "jsonl", 100).model_dump()
    builds.run(row["id"], steward.id)
    done = {d.id: d.model_dump() for d in builds.listing(steward)}[row["id"]]
    assert done["state"] == "stale" and "during the build" in done["stale_reason"]
    assert not (served.store.blobs.root / "_datasets" / row["id"]).exists()


def test_a_build_cut_off_by_a_restart_is_taken_up_again(served: Served) -> None:
    """A job nobody holds (its collector stopped) is built again by a serving collector's
    worker; here the people it needs are gone, so it fails with that reason."""
    from deskscribe.collector.schema import datasets

    with served.store.engine.begin() as c:
        c.execute(datasets.insert().values(id="ab", fmt="hf", precision_ms=100, state="building", created_ns=1,
                                           contributors=0, sessions=0, episodes=0, steps=0, bytes=0))
    deadline = time.monotonic() + 30
    while True:
        with served.store.engine.connect() as c:
            row = c.execute(datasets.select()).first()
        if row.state != "building":
            break
        assert time.monotonic() < deadline, "no worker took the job up"
        time.sleep(0.2)
    assert row.state == "failed" and "at least 10 contributors" in row.stale_reason and row.attempts == 1
