"""`deskscribe serve`, `admin`, `enrol` and `upload` as a contributor and a steward run them,
including a collector killed mid-upload and restarted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend
from tests.support import Collector, cli, events_in, rounded, sealed_session


def test_enrol_and_upload_survive_a_collector_killed_mid_upload(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "device"
    sid = sealed_session(data, events=4500)
    size = (data / "sessions" / f"{sid}.db").stat().st_size
    assert size > 3 * 1024 * 1024  # at least four chunks
    server = Collector(tmp_path, env).start()
    try:
        code = cli("admin", "enrol-code", "--db", server.db, "--data-dir", str(tmp_path / "srv"), env=env).stdout.strip()
        cli("enrol", server.url, code, "--data-dir", str(data), env=env)
        assert oct((data / "collector.json").stat().st_mode & 0o777) == "0o600"
        cli("review", "approve", sid, "--data-dir", str(data), env=env)
        upload = subprocess.Popen(
            [sys.executable, "-m", "deskscribe", "upload", sid, "--data-dir", str(data), "--max-kib-s", "1024"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)  # part of the session is on the server now
        server.kill()
        time.sleep(1.0)
        server.start()  # the uploader's retries find it again
        _, err = upload.communicate(timeout=120)
        assert upload.returncode == 0, err
        again = cli("upload", sid, "--data-dir", str(data), env=env)  # repeating is harmless
        assert f"session {sid} is already on the collector" in again.stdout
    finally:
        server.kill()
    engine = create_engine(server.db)
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, chunks, bytes FROM sessions")).all()
        n_chunks = c.execute(text("SELECT COUNT(*) FROM chunks")).scalar()
    assert [r.id for r in rows] == [sid] and rows[0].chunks == n_chunks
    stored = b"".join(p.read_bytes() for p in sorted((tmp_path / "blobs").rglob("*")) if p.is_file())
    local = events_in((data / "sessions" / f"{sid}.db").read_bytes(), sid, data)
    assert any(t % 100_000_000 for _, t, _ in local)  # the device keeps its own timing
    assert events_in(stored, sid, data) == rounded(local, 100)  # exactly once, at the policy's precision
    assert cli("admin", "audit", "verify", "--db", server.db, "--data-dir", str(tmp_path / "srv"),
               env=env).stdout.strip() == "audit log intact"


def test_upload_refuses_clearly_without_enrolment_or_a_sealed_session(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "device"
    sid = sealed_session(data, events=3)
    cli("review", "approve", sid, "--data-dir", str(data), env=env)
    out = cli("upload", sid, "--data-dir", str(data), env=env, check=False)
    assert out.returncode == 2 and "not enrolled" in out.stderr and "Traceback" not in out.stderr
    bad = cli("admin", "enrol-code", "--role", "boss", "--db", f"sqlite:///{tmp_path / 's.db'}", env=env,
              check=False)
    assert bad.returncode == 2 and "role must be one of" in bad.stderr
    nodb = cli("admin", "audit", "verify", "--db", "postgresql://nobody@127.0.0.1:1/none", env=env, check=False)
    assert nodb.returncode == 2 and "cannot open the collector database" in nodb.stderr


def test_export_then_erasure_leaves_nothing_of_the_contributor(tmp_path: Path, env: dict[str, str]) -> None:
    server = Collector(tmp_path, env).start()
    devices: dict[str, tuple[Path, str, str]] = {}
    try:
        for name in ("alice", "bob"):
            data = tmp_path / name
            sid = sealed_session(data, events=50)
            code = cli("admin", "enrol-code", "--db", server.db, "--data-dir", str(tmp_path / "srv"),
                       env=env).stdout.strip()
            cli("enrol", server.url, code, "--data-dir", str(data), env=env)
            cli("review", "approve", sid, "--data-dir", str(data), env=env)
            cli("upload", "--data-dir", str(data), env=env)
            contributor = json.loads((data / "collector.json").read_text())["contributor_id"]
            devices[name] = (data, sid, contributor)
        alice, sid, who = devices["alice"]
        local = (alice / "sessions" / f"{sid}.db").read_bytes()
        cli("me", "export", "--out", str(tmp_path / "export"), "--data-dir", str(alice), env=env)
        exported = (tmp_path / "export" / "sessions" / f"{sid}.db").read_bytes()
        assert events_in(exported, sid, alice) == rounded(events_in(local, sid, alice), 100)
        manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
        assert manifest["sessions"][0]["id"] == sid and manifest["key_on_file"] is True
        assert any(a["action"] == "upload" and a["subject"] == sid for a in manifest["accesses"])
        decoded = [json.loads(line) for line in (tmp_path / "export" / "sessions" / sid / "events.jsonl").open()]
        assert len(decoded) == 50 and all(e["t_ns"] % 100_000_000 == 0 for e in decoded)  # JSON, as held
        assert json.loads((tmp_path / "export" / "sessions" / sid / "meta.json").read_text())["session_id"] == sid

        assert (alice / "outbox.json").exists() and (alice / "contributor.json").exists()
        out = cli("me", "delete", "--yes", "--data-dir", str(alice), env=env)
        assert "the collector erased 1 session\n" in out.stdout
        audit = cli("admin", "audit", "verify", "--db", server.db, "--data-dir", str(tmp_path / "srv"), env=env)
        assert audit.stdout.strip() == "audit log intact"
    finally:
        server.kill()
    engine = create_engine(server.db)
    with engine.connect() as c:
        for table in ("sessions", "devices"):
            assert c.execute(text(f"SELECT COUNT(*) FROM {table} WHERE contributor_id = :w"), {"w": who}).scalar() == 0
        assert c.execute(text("SELECT COUNT(*) FROM chunks WHERE session_id = :s"), {"s": sid}).scalar() == 0
        assert c.execute(text("SELECT COUNT(*) FROM sessions")).scalar() == 1  # bob's
    assert not (tmp_path / "blobs" / who).exists()
    server_bytes = b"".join(p.read_bytes() for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    middle = len(exported) // 2  # ciphertext: unique to alice's session (the header is not)
    assert exported[middle:middle + 64] not in server_bytes
    assert list((alice / "sessions").iterdir()) == [] and not (alice / "contributor.key").exists()
    assert not (alice / "collector.json").exists()
    # Nothing left names alice's sessions or her pseudonym: not the outbox, not contributor.json.
    left = sorted(p.name for p in alice.rglob("*") if p.is_file())
    assert not {"outbox.json", "contributor.json"} & set(left), left
    assert not (alice / "outbox").exists() and not any(sid in name for name in left), left
    # The exported copy outlives the erasure but can no longer be read: the key is gone.
    (alice / "sessions" / f"{sid}.db").write_bytes(local)
    dump = cli("sessions", "dump", sid, "--data-dir", str(alice), env=env, check=False)
    assert dump.returncode == 2 and dump.stdout == "" and "Traceback" not in dump.stderr


def test_only_reviewed_and_approved_sessions_leave(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "device"
    dd = DataDir(root=data, key_backend=FileKeyBackend(path=data / "contributor.key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 800, 600),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    w.add_event(Event(t_ns=0, kind="focus", data={"app": "XTerm", "title": "t", "pid": 1,
                                                  "geometry": [0, 0, 800, 600], "url": None}))
    w.add_event(Event(t_ns=10**9, kind="mouse_down", data={"x": 10, "y": 20, "button": "left"}))
    w.add_event(Event(t_ns=10**9 + 10**8, kind="mouse_up", data={"x": 10, "y": 20, "button": "left"}))
    w.add_event(Event(t_ns=2 * 10**9, kind="text", data={"text": "hi <EMAIL_ADDRESS>", "kinds": ["EMAIL_ADDRESS"],
                                                         "secure": False, "erase": 0, "t_end_ns": 3 * 10**9}))
    w.close(seal=True)
    other = sealed_session(data, events=3)
    listing = cli("review", "--data-dir", str(data), env=env).stdout
    assert sid in listing and "to review" in listing and "XTerm" in listing
    shown = cli("review", "show", sid, "--data-dir", str(data), env=env).stdout
    assert "click at (10, 20)" in shown and "type 'hi <EMAIL_ADDRESS>'" in shown

    server = Collector(tmp_path, env).start()
    try:
        code = cli("admin", "enrol-code", "--db", server.db, "--data-dir", str(tmp_path / "srv"), env=env).stdout.strip()
        cli("enrol", server.url, code, "--data-dir", str(data), env=env)
        refused = cli("upload", sid, "--data-dir", str(data), env=env, check=False)
        assert refused.returncode == 2 and "not approved" in refused.stderr
        assert "nothing to upload" in cli("upload", "--data-dir", str(data), env=env).stdout
        cli("review", "approve", sid, "--data-dir", str(data), env=env)
        cli("review", "delete", other, "--data-dir", str(data), env=env)
        assert f"uploaded session {sid}" in cli("upload", "--data-dir", str(data), env=env).stdout
        assert "nothing to upload" in cli("upload", "--data-dir", str(data), env=env).stdout
        assert "uploaded" in cli("review", "--data-dir", str(data), env=env).stdout
    finally:
        server.kill()
    with create_engine(server.db).connect() as c:
        assert [r[0] for r in c.execute(text("SELECT id FROM sessions"))] == [sid]
