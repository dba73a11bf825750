"""A recorder under its collector's policy, on a virtual desktop: a newly published policy
seals the running session and recording goes on under it; one whose notice changed stops
recording until the contributor acknowledges it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import deskscribe
from tests.support import Collector

POLICY = 'version = "{v}"\ndesignated_apps = [{apps}]\nframes = false\n'


def publish(server: Collector, tmp: Path, env: dict[str, str], version: str, apps: str = '"XTerm"') -> None:
    path = tmp / f"policy-{version}.toml"
    path.write_text(POLICY.format(v=version, apps=apps))
    deskscribe("admin", "policy", "publish", str(path), "--db", server.db, "--blobs", str(server.blobs), env=env)


def wait_for(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if needle in line:
            return line
        assert line or proc.poll() is None, f"recorder exited waiting for {needle!r}"
    raise AssertionError(f"no {needle!r} within {timeout}s")


def test_a_republished_policy_starts_a_new_session_and_a_new_notice_stops_recording(
        vd: VirtualDisplay, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[recorder]\nkey_store = "file"\npolicy_refresh_minutes = 0.03\n')
    env = {**os.environ, "DESKSCRIBE_CONFIG": str(config)}
    data = ["--data-dir", str(tmp_path / "device")]
    server = Collector(tmp_path, env).start()
    proc = None
    try:
        publish(server, tmp_path, env, "v1")
        code = deskscribe("admin", "enrol-code", "--db", server.db, "--blobs", str(server.blobs), env=env).stdout
        deskscribe("enrol", server.url, code.strip(), *data, env=env)
        deskscribe("consent", "accept", "--yes", *data, env=env)
        proc = subprocess.Popen([sys.executable, "-m", "deskscribe", "record", *data, "--display", vd.name],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**vd.env, "DESKSCRIBE_CONFIG": str(config)})
        first = wait_for(proc, "recording session").split()[2]
        publish(server, tmp_path, env, "v2")  # the same notice: recording goes on
        wait_for(proc, "published a new policy")
        second = wait_for(proc, "recording session").split()[2]
        publish(server, tmp_path, env, "v3", '"XTerm", "Gedit"')  # a new app: a new notice
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and "is not acknowledged" in err and "Traceback" not in err
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        server.kill()
    listed = {s["id"]: s for s in json.loads(deskscribe("sessions", "list", "--json", *data, env=env).stdout)}
    assert set(listed) == {first, second} and all(s["sealed"] for s in listed.values())
    versions = {}
    for sid in (first, second):
        meta = json.loads(deskscribe("sessions", "dump", sid, "--meta", *data, env=env).stdout.splitlines()[0])
        versions[sid] = meta["policy_version"]
    assert versions == {first: "v1", second: "v2"}
