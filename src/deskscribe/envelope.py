"""The collector's key pair, and the contributor's data key wrapped for it.

An ECIES-style box (X25519 + HKDF + AES-GCM) from `cryptography`'s primitives: the recorder
wraps its data key for the collector's public key, so the collector can read uploads for
dataset builds while nobody who holds only the blobs can. Bound to the contributor id so a
wrapped key cannot be replayed as someone else's.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from deskscribe.errors import DataKeyError
from deskscribe.keystore import KEY_BYTES, FileKeyBackend
from deskscribe.sealer import NONCE_BYTES

PUBLIC_BYTES = 32
TAG_BYTES = 16
WRAPPED_BYTES = PUBLIC_BYTES + NONCE_BYTES + KEY_BYTES + TAG_BYTES


def new_collector_key() -> bytes:
    """A fresh X25519 private key, raw 32 bytes."""
    return X25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def public_of(private: bytes) -> bytes:
    public = X25519PrivateKey.from_private_bytes(private).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _kek(shared: bytes, ephemeral: bytes, recipient: bytes, contributor: str) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral + recipient,
                       info=b"deskscribe/v1/wrap/" + contributor.encode()).derive(shared))


def wrap_key(data_key: bytes, *, recipient: bytes, contributor: str) -> bytes:
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient))
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = _kek(shared, eph_pub, recipient, contributor).encrypt(nonce, data_key, contributor.encode())
    return eph_pub + nonce + sealed


def unwrap_key(wrapped: bytes, *, private: bytes, contributor: str) -> bytes:
    if len(wrapped) != WRAPPED_BYTES:
        raise DataKeyError("a wrapped data key has the wrong length")
    sealed_at = PUBLIC_BYTES + NONCE_BYTES
    eph_pub, nonce, sealed = wrapped[:PUBLIC_BYTES], wrapped[PUBLIC_BYTES:sealed_at], wrapped[sealed_at:]
    me = X25519PrivateKey.from_private_bytes(private)
    shared = me.exchange(X25519PublicKey.from_public_bytes(eph_pub))
    recipient = public_of(private)
    try:
        return _kek(shared, eph_pub, recipient, contributor).decrypt(nonce, sealed, contributor.encode())
    except InvalidTag:
        raise DataKeyError("the data key was not wrapped for this collector and contributor") from None


def load_or_create_private(path: Path) -> bytes:
    """The collector's private key file (0600); created on first use."""
    backend = FileKeyBackend(path=path)
    key = backend.load()
    if key is None:
        key = new_collector_key()
        backend.save(key)
    return key
