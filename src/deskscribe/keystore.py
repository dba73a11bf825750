"""Where the contributor's data key lives: the OS keyring when one exists, else a 0600 file.

One random 256-bit key per contributor encrypts everything at rest, so destroying it (erasure)
makes every session unreadable at once; a backend only keeps, hands out and forgets that key.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import Protocol

from deskscribe.errors import DataKeyError

KEY_BYTES = 32
KEYRING_SERVICE = "deskscribe"


class KeyBackend(Protocol):
    name: str

    def load(self) -> bytes | None: ...

    def save(self, key: bytes) -> None: ...

    def delete(self) -> None: ...


class FileKeyBackend:
    """A key file only its owner can read; the fallback where no OS keyring exists."""

    name = "file"

    def __init__(self, *, path: Path) -> None:
        self.path = path

    def load(self) -> bytes | None:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise DataKeyError(f"key file {self.path} is readable by others; run: chmod 600 {self.path}")
        return _decode_key(self.path.read_text().strip(), where=str(self.path))

    def save(self, key: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(key).decode() + "\n")

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


class KeyringBackend:
    """The OS keyring (Secret Service, Keychain, Credential Locker) via ``keyring``."""

    name = "keyring"

    def __init__(self, *, account: str) -> None:
        self.account = account

    def load(self) -> bytes | None:
        import keyring
        import keyring.errors

        try:
            value = keyring.get_password(KEYRING_SERVICE, self.account)
        except keyring.errors.KeyringError as exc:
            raise DataKeyError(f"the OS keyring refused to give the data key ({exc}); unlock it,"
                               ' or set key_store = "file" in config.toml') from None
        return None if value is None else _decode_key(value, where="the OS keyring")

    def save(self, key: bytes) -> None:
        import keyring
        import keyring.errors

        try:
            keyring.set_password(KEYRING_SERVICE, self.account, base64.b64encode(key).decode())
        except keyring.errors.KeyringError as exc:
            raise DataKeyError(f"the OS keyring refused to store the data key ({exc}); unlock it,"
                               ' or set key_store = "file" in config.toml') from None

    def delete(self) -> None:
        import keyring
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(KEYRING_SERVICE, self.account)


class MemoryKeyBackend:
    """A key held only in memory: the collector's unwrapped copy during a build."""

    name = "memory"

    def __init__(self, *, key: bytes | None) -> None:
        self._key = key

    def load(self) -> bytes | None:
        return self._key

    def save(self, key: bytes) -> None:
        self._key = key

    def delete(self) -> None:
        self._key = None


# Linux keyrings are D-Bus services; keyring's own probe loads every backend plugin (~14 MiB).
_LINUX_KEYRING_NAMES = ("org.freedesktop.secrets", "org.kde.kwalletd5", "org.kde.kwalletd6")


def _linux_keyring_on_bus() -> bool:
    """True when a Secret Service or KWallet owns its name on the session bus."""
    try:
        from jeepney import message_bus
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus="SESSION") as bus:
            return any(bus.send_and_get_reply(message_bus.NameHasOwner(name), timeout=2).body[0]
                       for name in _LINUX_KEYRING_NAMES)
    except Exception:  # no session bus, or none that answers: no keyring either
        return False


def os_keyring_available() -> bool:
    """True when a real (non-failing, non-plaintext) keyring backend is configured."""
    if sys.platform.startswith("linux") and not _linux_keyring_on_bus():
        return False
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return False
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration is the same as none
        return False
    return not isinstance(backend, fail.Keyring) and float(getattr(backend, "priority", 0)) > 0


def _decode_key(text: str, *, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise DataKeyError(f"the data key in {where} is damaged; it cannot decrypt anything")
    return key


def load_or_create_key(backend: KeyBackend) -> bytes:
    key = backend.load()
    if key is None:
        key = secrets.token_bytes(KEY_BYTES)
        backend.save(key)
    return key
