"""The collector's key pair, and keys wrapped for it with HPKE (RFC 9180).

The suite is the ML-KEM-768 + X25519 hybrid KEM with HKDF-SHA256 and AES-256-GCM: a wrapped
data key protects personal data for years, and a recording of today's traffic must stay
unreadable to a later quantum computer (ML-KEM) without trusting ML-KEM alone (X25519). The
wrap is bound to what it protects (a contributor id, ``dataset/ID``) through HPKE's ``info``,
so a wrapped key cannot be replayed as someone else's.

Collectors from before HPKE hold a bare X25519 key and ECIES-style boxes (X25519 + HKDF +
AES-GCM, 80 bytes, no prefix). Their key stays in the key file beside the hybrid pair, so
those boxes remain readable while the collector re-wraps them (:func:`is_current`).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from deskscribe.atomic_file import write_atomic
from deskscribe.errors import DataKeyError

SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
PREFIX = b"DSH1"  # deskscribe HPKE, version 1: what a wrapped value starts with
MLKEM_SEED_BYTES = 64
MLKEM_PUBLIC_BYTES = 1184
X25519_BYTES = 32
PUBLIC_BYTES = MLKEM_PUBLIC_BYTES + X25519_BYTES
TAG_BYTES = 16
KEY_BYTES = 32
WRAPPED_BYTES = len(PREFIX) + hpke.KEM.MLKEM768_X25519.enc_length() + KEY_BYTES + TAG_BYTES
LEGACY_WRAPPED_BYTES = X25519_BYTES + 12 + KEY_BYTES + TAG_BYTES
_KEYS = b"DSCK2"  # the collector's private keys, serialised: hybrid seed pair, then the old key
_HYBRID = "hpke-mlkem768x25519"
_LEGACY = "x25519"


@dataclass(frozen=True)
class CollectorKeys:
    """The hybrid pair's private halves, and the X25519 key of a collector from before HPKE."""

    mlkem_seed: bytes
    x25519: bytes
    legacy: bytes | None = None

    def to_bytes(self) -> bytes:
        return _KEYS + self.mlkem_seed + self.x25519 + (self.legacy or b"")

    @classmethod
    def from_bytes(cls, raw: bytes) -> CollectorKeys:
        body = raw[len(_KEYS):]
        hybrid = MLKEM_SEED_BYTES + X25519_BYTES
        if len(raw) == X25519_BYTES:
            raise DataKeyError("this collector key is the old X25519 key alone; load it with"
                               " load_or_create_private, which adds the hybrid key to its file")
        if not raw.startswith(_KEYS) or len(body) not in (hybrid, hybrid + X25519_BYTES):
            raise DataKeyError("the collector's private key is damaged")
        return cls(body[:MLKEM_SEED_BYTES], body[MLKEM_SEED_BYTES:hybrid], body[hybrid:] or None)

    def hpke_private(self) -> hpke.MLKEM768X25519PrivateKey:
        return hpke.MLKEM768X25519PrivateKey(MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed),
                                             X25519PrivateKey.from_private_bytes(self.x25519))


def _raw(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def new_collector_key(*, legacy: bytes | None = None) -> bytes:
    """A fresh hybrid key pair (serialised private halves); ``legacy`` keeps an old X25519 key."""
    seed = MLKEM768PrivateKey.generate().private_bytes_raw()
    return CollectorKeys(seed, _raw(X25519PrivateKey.generate()), legacy).to_bytes()


def public_of(private: bytes) -> bytes:
    """The hybrid public key as devices receive it: ML-KEM-768 public key, then X25519's."""
    keys = CollectorKeys.from_bytes(private)
    mlkem = MLKEM768PrivateKey.from_seed_bytes(keys.mlkem_seed).public_key().public_bytes_raw()
    x25519 = X25519PrivateKey.from_private_bytes(keys.x25519).public_key()
    return mlkem + x25519.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _info(binding: str) -> bytes:
    return b"deskscribe/v2/wrap/" + binding.encode()


def wrap_key(data_key: bytes, *, recipient: bytes, contributor: str) -> bytes:
    """``data_key`` sealed for ``recipient`` (a :func:`public_of` key), bound to ``contributor``
    (a contributor id or any other binding, e.g. ``dataset/ID``)."""
    if len(recipient) != PUBLIC_BYTES:
        raise DataKeyError(f"a collector key is {PUBLIC_BYTES} bytes (ML-KEM-768 + X25519), not"
                           f" {len(recipient)}; fetch it again from /v1/collector-key")
    public = hpke.MLKEM768X25519PublicKey(
        MLKEM768PublicKey.from_public_bytes(recipient[:MLKEM_PUBLIC_BYTES]),
        X25519PublicKey.from_public_bytes(recipient[MLKEM_PUBLIC_BYTES:]))
    return PREFIX + SUITE.encrypt(data_key, public, info=_info(contributor))


def is_current(wrapped: bytes) -> bool:
    """True for an HPKE wrap; False for a box from before HPKE, which the collector re-wraps."""
    return wrapped.startswith(PREFIX) and len(wrapped) == WRAPPED_BYTES


def unwrap_key(wrapped: bytes, *, private: bytes, contributor: str) -> bytes:
    """The key inside an HPKE wrap, or inside an old box while the old key is on file."""
    keys = CollectorKeys.from_bytes(private)
    if is_current(wrapped):
        try:
            return SUITE.decrypt(wrapped[len(PREFIX):], keys.hpke_private(), info=_info(contributor))
        except InvalidTag:
            raise DataKeyError("the data key was not wrapped for this collector and contributor") from None
    if len(wrapped) == LEGACY_WRAPPED_BYTES and keys.legacy is not None:
        return _unwrap_legacy(wrapped, keys.legacy, contributor)
    raise DataKeyError("a wrapped data key has the wrong length or format")


def _unwrap_legacy(wrapped: bytes, private: bytes, contributor: str) -> bytes:
    """The ECIES-style box of collectors before HPKE; read only, never written again."""
    eph_pub, nonce, sealed = wrapped[:X25519_BYTES], wrapped[X25519_BYTES:44], wrapped[44:]
    me = X25519PrivateKey.from_private_bytes(private)
    shared = me.exchange(X25519PublicKey.from_public_bytes(eph_pub))
    recipient = me.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kek = AESGCM(HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=eph_pub + recipient,
                      info=b"deskscribe/v1/wrap/" + contributor.encode()).derive(shared))
    try:
        return kek.decrypt(nonce, sealed, contributor.encode())
    except InvalidTag:
        raise DataKeyError("the data key was not wrapped for this collector and contributor") from None


def load_or_create_private(path: Path) -> bytes:
    """The collector's private keys from their 0600 file, created on first use. A file from
    before HPKE (one X25519 key) gains a hybrid pair first, written atomically, the old key
    kept, so every key wrapped for it stays readable until it is re-wrapped."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        private = new_collector_key()
        _write(path, private)
        return private
    if mode & 0o077:
        raise DataKeyError(f"key file {path} is readable by others; run: chmod 600 {path}")
    keys = _parse_file(path)
    if _HYBRID not in keys:
        private = new_collector_key(legacy=base64.b64decode(keys[_LEGACY]))
        _write(path, private)
        return private
    hybrid = base64.b64decode(keys[_HYBRID])
    return _KEYS + hybrid + (base64.b64decode(keys[_LEGACY]) if _LEGACY in keys else b"")


def _parse_file(path: Path) -> dict[str, str]:
    """``name base64`` lines; a file of one bare base64 line is the old X25519 key."""
    lines = path.read_text().split("\n")
    entries = [line.split() for line in lines if line.strip()]
    if len(entries) == 1 and len(entries[0]) == 1:
        entries = [[_LEGACY, entries[0][0]]]
    sizes = {_HYBRID: MLKEM_SEED_BYTES + X25519_BYTES, _LEGACY: X25519_BYTES}
    keys = {e[0]: e[1] for e in entries if len(e) == 2}
    try:
        ok = (len(keys) == len(entries) and keys.keys() <= sizes.keys() and bool(keys)
              and all(len(base64.b64decode(v, validate=True)) == sizes[k] for k, v in keys.items()))
    except ValueError:
        ok = False
    if not ok:
        raise DataKeyError(f"the collector key file {path} is damaged; it cannot unwrap anything")
    return keys


def _write(path: Path, private: bytes) -> None:
    """Replace the key file in one rename, durable before it is used to wrap anything."""
    keys = CollectorKeys.from_bytes(private)
    text = f"{_HYBRID} {base64.b64encode(keys.mlkem_seed + keys.x25519).decode()}\n"
    if keys.legacy is not None:
        text += f"{_LEGACY} {base64.b64encode(keys.legacy).decode()}\n"
    write_atomic(path, text.encode())
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
