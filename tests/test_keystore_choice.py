"""Which key backend ``auto`` picks, and that picking it does not load keyring's plugins when a
key file already holds the key or no keyring service is on the session bus."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskscribe.keystore import _linux_keyring_on_bus


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, text=True)
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    try:
        yield address
    finally:
        bus.terminate()
        bus.wait(timeout=10)


def test_no_keyring_service_on_the_bus_means_none(session_bus: str) -> None:
    assert _linux_keyring_on_bus() is False


def test_a_secret_service_owning_its_name_is_seen(session_bus: str) -> None:
    from jeepney import message_bus
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus="SESSION") as owner:
        reply = owner.send_and_get_reply(message_bus.RequestName("org.freedesktop.secrets"), timeout=5)
        assert reply.body[0] == 1  # primary owner
        assert _linux_keyring_on_bus() is True
    assert _linux_keyring_on_bus() is False  # the name left with its owner


def test_no_session_bus_means_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    assert _linux_keyring_on_bus() is False


PROBE = """
import sys
from pathlib import Path
from deskscribe.cli.config import key_backend, load_config
cfg = load_config(Path(sys.argv[1]))
backend = key_backend(cfg, "c1")
print(type(backend).__name__, "keyring" in sys.modules)
"""


@pytest.mark.parametrize("key_file", [True, False])
def test_auto_never_loads_keyring_without_a_service(tmp_path: Path, session_bus: str, key_file: bool) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if key_file:
        (data / "contributor.key").write_text("x")
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    out = subprocess.run([sys.executable, "-c", PROBE, str(data)], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["FileKeyBackend", "False"]


def test_a_key_file_wins_over_a_keyring_service(tmp_path: Path, session_bus: str) -> None:
    from jeepney import message_bus
    from jeepney.io.blocking import open_dbus_connection

    data = tmp_path / "data"
    data.mkdir()
    (data / "contributor.key").write_text("x")
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus}
    with open_dbus_connection(bus="SESSION") as owner:
        owner.send_and_get_reply(message_bus.RequestName("org.freedesktop.secrets"), timeout=5)
        out = subprocess.run([sys.executable, "-c", PROBE, str(data)], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
    assert out == ["FileKeyBackend", "False"]
