"""A virtual desktop with real apps, and the recorder run as its own process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskscribe.events import Event, validate
from deskscribe.vdisplay import VirtualDisplay

POLICY = """
version = "test-1"
designated_apps = ["XTerm"]
excluded_titles = ["*Private Notes*"]
screenshot_interval_s = 1
"""


def deskscribe(*args: str, env: dict[str, str] | None = None, check: bool = True
               ) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "deskscribe", *args], capture_output=True, text=True,
                         env=env, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"deskscribe {' '.join(args)} failed: {out.stderr}")
    return out


class RecorderProcess:
    def __init__(self, *, vd: VirtualDisplay, data_dir: Path, policy: Path) -> None:
        self.vd, self.data_dir, self.policy = vd, data_dir, policy
        self.proc: subprocess.Popen[str] | None = None
        self.session_id = ""
        self.notes: list[str] = []

    def start(self, *, acknowledge: bool = True) -> RecorderProcess:
        if acknowledge:
            deskscribe("consent", "accept", "--yes", "--policy", str(self.policy), "--data-dir", str(self.data_dir))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deskscribe", "record", "--policy", str(self.policy),
             "--data-dir", str(self.data_dir), "--display", self.vd.name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.vd.env)
        assert self.proc.stderr is not None
        self.notes = [self.proc.stderr.readline()]
        while self.notes[-1].startswith("note:"):
            self.notes.append(self.proc.stderr.readline())
        line = self.notes[-1]
        assert line.startswith("recording session"), line + self.proc.stderr.read()
        self.session_id = line.split()[2]
        return self

    def stop(self) -> str:
        assert self.proc is not None
        time.sleep(0.4)  # let the last grabs and commits land, as a person stopping would
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return out

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def dump(self) -> list[dict[str, object]]:
        """The session's events; each one is checked against the raw event contract."""
        out = deskscribe("sessions", "dump", self.session_id, "--data-dir", str(self.data_dir))
        events = [json.loads(line) for line in out.stdout.splitlines()]
        for e in events:
            data = {k: v for k, v in e.items() if k not in ("id", "kind", "t_ns")}
            validate(Event(t_ns=int(e["t_ns"]), kind=str(e["kind"]), data=data))  # type: ignore[call-overload]
        return events


@pytest.fixture(scope="module")
def vd() -> Iterator[VirtualDisplay]:
    display = VirtualDisplay(width=1280, height=800).start()
    yield display
    display.stop()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def recorder(vd: VirtualDisplay, tmp_path: Path, policy_file: Path) -> Iterator[RecorderProcess]:
    rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy_file)
    yield rec
    rec.kill()
