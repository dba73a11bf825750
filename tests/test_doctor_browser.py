"""`deskscribe doctor`'s browser lines as a contributor sees them: is the host installed, is a
recorder running, is an extension connected to it (through the installed host, for real)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, cast

import pytest

from deskscribe.browser.native_host import PROTOCOL
from deskscribe.browser.source import BrowserSource
from deskscribe.control import ControlServer, socket_path
from deskscribe.doctor import OK, WARN, check_browser
from deskscribe.errors import ControlError
from deskscribe.pipeline.recorder import Recorder
from deskscribe.policy import parse_policy
from deskscribe.redact.text import TextScanner
from deskscribe.run_loop import control_handler
from tests.support import cli

WAIT_S = 20.0
POLICY = parse_policy({"version": "d1", "designated_apps": ["XTerm"], "designated_sites": ["https://*.example.com/*"]})
MARKS = {"✔": OK, "!": WARN, "✘": "fail"}


@dataclass(frozen=True)
class Line:
    status: str
    detail: str
    fix: str


@dataclass(frozen=True)
class Machine:
    home: Path
    data: Path
    env: dict[str, str]

    def doctor(self) -> dict[str, Line]:
        """The browser lines doctor prints, by check name."""
        out = cli("doctor", "--data-dir", str(self.data), env=self.env, check=False)
        assert "Traceback" not in out.stderr, out.stderr
        return browser_lines(out.stdout)

    def install(self, browser: str = "chromium") -> None:
        cli("browser", "install", "--browser", browser, "--data-dir", str(self.data), env=self.env)


def browser_lines(stdout: str) -> dict[str, Line]:
    found: dict[str, Line] = {}
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        mark, _, rest = line.partition(" ")
        name, _, detail = rest.partition(": ")
        if mark in MARKS and name.startswith("browser "):
            follow = lines[i + 1].strip() if i + 1 < len(lines) else ""
            found[name] = Line(MARKS[mark], detail, follow.removeprefix("fix: ") if follow.startswith("fix:") else "")
    assert set(found) == {"browser host", "browser extension"}, stdout
    return found


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    home = tmp_path / "home"
    dirs = {"HOME": home, "XDG_CONFIG_HOME": home / ".config", "XDG_DATA_HOME": home / ".local" / "share"}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DESKSCRIBE_CONFIG")}
    env.update({k: str(v) for k, v in dirs.items()}, COLUMNS="400")  # no wrapped lines
    return Machine(home=home, data=tmp_path / "data", env=env)


@pytest.fixture(scope="module")
def scanner() -> TextScanner:
    return TextScanner()


class RunningRecorder:
    """A control server answering status as the recorder does, with or without browser reports."""

    def __init__(self, data: Path, source: BrowserSource | None) -> None:
        recorder = cast(Recorder, SimpleNamespace(stats=SimpleNamespace(recording_app=None, kept_visible=False, ocr_pixels=0,
                                                                          frames_described=0)))
        handle = control_handler(lambda: recorder, "s1", browser=source)
        streams = {} if source is None else {"browser": source.attach}
        self.server = ControlServer(path=socket_path(data), handle=handle, streams=streams)


@pytest.fixture
def with_browser(machine: Machine, scanner: TextScanner) -> Iterator[BrowserSource]:
    source = BrowserSource(policy=POLICY, scanner=scanner)
    running = RunningRecorder(machine.data, source)
    running.server.start()
    try:
        yield source
    finally:
        running.server.stop()


def read_frame(out: IO[bytes]) -> dict[str, Any]:
    header = out.read(4)
    assert len(header) == 4, "the host sent nothing"
    (n,) = struct.unpack("=I", header)
    message = json.loads(out.read(n))
    assert isinstance(message, dict)
    return message


def test_no_host_installed_says_how_to_install_it(machine: Machine) -> None:
    lines = machine.doctor()
    assert lines["browser host"].status == WARN
    assert "no native messaging host installed" in lines["browser host"].detail
    assert lines["browser host"].fix == "deskscribe browser install --browser chromium|chrome|firefox"


def test_a_host_installed_only_into_a_browser_profile_is_found(machine: Machine, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    cli("browser", "install", "--user-data-dir", str(profile), "--data-dir", str(machine.data), env=machine.env)
    lines = machine.doctor()
    assert lines["browser host"] == Line(OK, f"native messaging host installed for chromium --user-data-dir {profile.resolve()}", "")
    (machine.data / "browser-host").unlink()
    lines = machine.doctor()
    assert lines["browser host"].status == WARN
    assert lines["browser host"].fix == f"deskscribe browser install --browser chromium --user-data-dir {profile.resolve()}"


def test_host_installed_and_no_recorder_says_so(machine: Machine) -> None:
    machine.install("firefox")
    lines = machine.doctor()
    assert lines["browser host"] == Line(OK, "native messaging host installed for firefox", "")
    assert lines["browser extension"].status == WARN
    assert "no recorder running" in lines["browser extension"].detail


def test_a_manifest_whose_launcher_is_gone_says_to_install_again(machine: Machine) -> None:
    machine.install("chrome")
    (machine.data / "browser-host").unlink()
    lines = machine.doctor()
    assert lines["browser host"].status == WARN
    assert "names no launcher that runs" in lines["browser host"].detail
    assert lines["browser host"].fix == "deskscribe browser install --browser chrome"


def test_an_extension_connected_through_the_installed_host_is_reported(
        machine: Machine, with_browser: BrowserSource) -> None:
    machine.install()
    manifest = json.loads((machine.home / ".config" / "chromium" / "NativeMessagingHosts"
                           / "org.deskscribe.host.json").read_text())
    host = subprocess.Popen([manifest["path"], "chrome-extension://kpflahigpogfocfacjlndoaadafdihab/"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=machine.env)
    try:
        assert host.stdout is not None
        assert read_frame(host.stdout)["type"] == "config"  # the recorder has taken the connection
        lines = machine.doctor()
    finally:
        host.communicate(timeout=WAIT_S)
    assert lines["browser host"] == Line(OK, "native messaging host installed for chromium", "")
    assert lines["browser extension"] == Line(OK, "1 extension connection(s) to the running recorder", "")
    assert host.returncode == 0


def test_a_recorder_with_no_extension_connected_says_how_to_load_it(
        machine: Machine, with_browser: BrowserSource) -> None:
    lines = machine.doctor()
    assert lines["browser extension"].status == WARN
    assert lines["browser extension"].detail == "no extension is connected to the running recorder"
    assert "deskscribe browser extension-path" in lines["browser extension"].fix


def test_a_recorder_without_designated_sites_takes_no_reports(machine: Machine) -> None:
    running = RunningRecorder(machine.data, None)
    running.server.start()
    try:
        lines = machine.doctor()
    finally:
        running.server.stop()
    assert lines["browser extension"].status == WARN
    assert "takes no browser reports" in lines["browser extension"].detail
    assert "designated_sites" in lines["browser extension"].fix


# -- the answers doctor cannot easily be shown over a socket ----------------------------------


def _extension(reply: dict[str, Any] | Exception) -> tuple[str, str]:
    def status() -> dict[str, Any]:
        if isinstance(reply, Exception):
            raise reply
        return reply
    check = check_browser(manifests={}, status=status)[1]
    assert check.name == "browser extension"
    return check.status, check.detail


def test_another_protocol_is_a_warning_naming_both() -> None:
    status, detail = _extension({"ok": True, "browser": {"protocol": PROTOCOL + 1, "connected": 1}})
    assert status == WARN and str(PROTOCOL + 1) in detail and str(PROTOCOL) in detail


@pytest.mark.parametrize(("connected", "expected"), [(3, OK), (0, WARN), (-1, WARN), (None, WARN), ("2", WARN)])
def test_only_a_positive_count_is_connected(connected: Any, expected: str) -> None:
    status, _ = _extension({"ok": True, "browser": {"protocol": PROTOCOL, "connected": connected}})
    assert status == expected


def test_a_recorder_that_does_not_answer_is_a_warning() -> None:
    status, detail = _extension(ControlError("timed out"))
    assert status == WARN and "did not answer: timed out" in detail
