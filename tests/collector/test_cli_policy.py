"""The policy, consent and key as a contributor's device and a steward's shell see them:
published policy fetched by the recorder, region gating, consent reaching the collector,
auto-approval, envelope key deposit, objection stopping uploads, offline fallback."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support import Collector, cli, sealed_session

POLICY = '''version = "2026-11"
designated_apps = ["XTerm", "Gedit"]
auto_approve_hours = 1

[regions.DE]
requires = ["dpia", "works_agreement"]
'''


def test_a_recorder_follows_the_collectors_policy_consent_and_region(tmp_path: Path, env: dict[str, str]) -> None:
    server = Collector(tmp_path, env).start()
    admin = ["--db", server.db, "--blobs", str(server.blobs)]
    dev = ["--data-dir", str(tmp_path / "device")]
    try:
        (tmp_path / "policy.toml").write_text(POLICY)
        assert "published policy 2026-11" in cli("admin", "policy", "publish", str(tmp_path / "policy.toml"),
                                                 *admin, env=env).stdout
        code = cli("admin", "enrol-code", "--region", "DE", *admin, env=env).stdout.strip()
        cli("enrol", server.url, code, *dev, env=env)

        gated = cli("consent", "show", *dev, env=env, check=False)
        assert gated.returncode == 2 and "not enabled in region DE" in gated.stderr
        assert "DPIA and works agreement" in gated.stderr and "Traceback" not in gated.stderr
        doctor = cli("doctor", *dev, env=env, check=False)
        assert doctor.returncode == 1 and "recording is not enabled in region DE" in doctor.stdout
        cli("admin", "region", "approve", "DE", "--dpia", "DPIA-2026-014", "--works-agreement", "BV-3", *admin, env=env)
        assert f"enrolled with {server.url}; policy 2026-11" in cli("doctor", *dev, env=env, check=False).stdout
        shown = cli("consent", "show", *dev, env=env).stdout
        assert "Gedit" in shown and "approved and uploaded automatically" in shown and "not acknowledged" in shown
        assert "the collector was told" in cli("consent", "accept", "--yes", *dev, env=env).stdout

        sid = sealed_session(tmp_path / "device", events=20)  # sealed long ago: past the 1 hour
        up = cli("upload", *dev, env=env).stdout
        assert f"approved {sid} automatically" in up and f"uploaded session {sid}" in up
        assert json.loads((tmp_path / "device" / "collector.json").read_text())["key_deposited"] is True

        assert "the collector was told" in cli("consent", "withdraw", *dev, env=env).stdout
        sealed_session(tmp_path / "device", events=20)
        refused = cli("upload", *dev, env=env, check=False)
        assert refused.returncode == 2 and "withdrew consent" in refused.stderr

        too_few = cli("admin", "dataset", "build", *admin, env=env, check=False)
        assert too_few.returncode == 2 and "at least 10 contributors" in too_few.stderr

        device = json.loads((tmp_path / "device" / "collector.json").read_text())["device_id"]
        assert f"revoked device {device}" in cli("admin", "revoke", device, *admin, env=env).stdout
        revoked = cli("consent", "show", *dev, env=env, check=False)  # a lost laptop's credential is dead
        assert revoked.returncode == 2 and "401" in revoked.stderr
        unknown = cli("admin", "revoke", "nosuchdevice", *admin, env=env, check=False)
        assert unknown.returncode == 2 and "no device nosuchdevice" in unknown.stderr
    finally:
        server.kill()
    offline = cli("consent", "show", *dev, env=env)  # the collector is gone: the cached policy serves
    assert "Gedit" in offline.stdout and "cannot be reached" in offline.stderr
    with create_engine(server.db).connect() as c:
        assert [r.action for r in c.execute(text("SELECT action FROM consent ORDER BY at_ns"))] == ["accept", "withdraw"]
        assert c.execute(text("SELECT COUNT(*) FROM wrapped_keys")).scalar() == 1
        assert c.execute(text("SELECT COUNT(*) FROM sessions WHERE completed_ns IS NOT NULL")).scalar() == 1


def test_recording_without_a_policy_or_collector_says_what_to_do(tmp_path: Path, env: dict[str, str]) -> None:
    out = cli("consent", "show", "--data-dir", str(tmp_path / "d"), env=env, check=False)
    assert out.returncode == 2 and "pass --policy FILE, or enrol" in out.stderr
