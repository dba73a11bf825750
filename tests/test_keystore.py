"""The data key through the real `keyring` API (with an in-memory backend) and the file fallback."""

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend as Backend

from deskscribe.errors import DataKeyError
from deskscribe.keystore import FileKeyBackend, KeyringBackend, MemoryKeyBackend, load_or_create_key


class MemoryKeyring(Backend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_keyring_backend_creates_once_and_erases(memory_keyring: MemoryKeyring) -> None:
    backend = KeyringBackend(account="contributor:abc")
    key = load_or_create_key(backend)
    assert load_or_create_key(backend) == key
    assert list(memory_keyring.items) == [("deskscribe", "contributor:abc")]
    backend.delete()
    assert backend.load() is None and load_or_create_key(backend) != key


def test_a_refusing_keyring_is_a_clear_error(memory_keyring: MemoryKeyring) -> None:
    import keyring.errors

    def locked(*_: object) -> None:
        raise keyring.errors.KeyringLocked("locked")

    memory_keyring.get_password = locked  # type: ignore[method-assign,assignment]
    with pytest.raises(DataKeyError, match="keyring refused"):
        KeyringBackend(account="a").load()


def test_file_backend_refuses_a_key_others_can_read(tmp_path: Path) -> None:
    backend = FileKeyBackend(path=tmp_path / "k")
    load_or_create_key(backend)
    (tmp_path / "k").chmod(0o644)
    with pytest.raises(DataKeyError, match="chmod 600"):
        backend.load()


def test_damaged_key_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("not base64!")
    (tmp_path / "k").chmod(0o600)
    with pytest.raises(DataKeyError, match="damaged"):
        FileKeyBackend(path=tmp_path / "k").load()


def test_memory_backend_holds_a_key_until_deleted() -> None:
    backend = MemoryKeyBackend(key=None)
    key = load_or_create_key(backend)
    assert len(key) == 32 and backend.load() == key
    backend.delete()
    assert backend.load() is None
