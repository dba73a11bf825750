"""The contributor's data key and the authenticated encryption built on it.

One random 256-bit key per contributor encrypts everything at rest (AES-GCM). Each session
uses a key derived from it with HKDF, so destroying the contributor key (erasure) makes every
session unreadable at once. The key lives in the OS keyring when one exists, else in a 0600 file.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from deskscribe.errors import DataKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
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


def os_keyring_available() -> bool:
    """True when a real (non-failing, non-plaintext) keyring backend is configured."""
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


class Sealer:
    """AES-GCM under a key derived for one purpose (a session); binds each blob to its slot."""

    def __init__(self, *, contributor_key: bytes, context: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
            info=b"deskscribe/v1/" + context.encode(),
        ).derive(contributor_key)
        self._aead = AESGCM(derived)

    def seal(self, plaintext: bytes, *, slot: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, slot.encode())

    def open(self, blob: bytes, *, slot: str) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], slot.encode())
        except InvalidTag:
            raise DataKeyError(
                f"cannot decrypt {slot}: wrong data key (erased or from another contributor)"
                " or damaged data") from None


# -- envelope: the data key wrapped for the collector ---------------------------------------
# An ECIES-style box (X25519 + HKDF + AES-GCM) from `cryptography`'s primitives: the recorder
# wraps its data key for the collector's public key, so the collector can read uploads for
# dataset builds while nobody who holds only the blobs can. Bound to the contributor id so a
# wrapped key cannot be replayed as someone else's.

PUBLIC_BYTES = 32


def new_collector_key() -> bytes:
    """A fresh X25519 private key, raw 32 bytes."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    return X25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def public_of(private: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = X25519PrivateKey.from_private_bytes(private).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _kek(shared: bytes, ephemeral: bytes, recipient: bytes, contributor: str) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral + recipient,
                       info=b"deskscribe/v1/wrap/" + contributor.encode()).derive(shared))


def wrap_key(data_key: bytes, *, recipient: bytes, contributor: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient))
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = _kek(shared, eph_pub, recipient, contributor).encrypt(nonce, data_key, contributor.encode())
    return eph_pub + nonce + sealed


def unwrap_key(wrapped: bytes, *, private: bytes, contributor: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    if len(wrapped) != PUBLIC_BYTES + NONCE_BYTES + KEY_BYTES + 16:
        raise DataKeyError("a wrapped data key has the wrong length")
    eph_pub, nonce, sealed = wrapped[:PUBLIC_BYTES], wrapped[PUBLIC_BYTES:44], wrapped[44:]
    me = X25519PrivateKey.from_private_bytes(private)
    shared = me.exchange(X25519PublicKey.from_public_bytes(eph_pub))
    recipient = public_of(private)
    try:
        return _kek(shared, eph_pub, recipient, contributor).decrypt(nonce, sealed, contributor.encode())
    except InvalidTag:
        raise DataKeyError("the data key was not wrapped for this collector and contributor") from None


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


def load_or_create_private(path: Path) -> bytes:
    """The collector's private key file (0600); created on first use."""
    backend = FileKeyBackend(path=path)
    key = backend.load()
    if key is None:
        key = new_collector_key()
        backend.save(key)
    return key
