"""Authenticated encryption of session content under the contributor's data key.

Each session uses a key derived from the contributor key with HKDF, so erasing the one key
makes every session unreadable, and each blob is bound to its slot so blobs cannot be swapped.
A blob is sealed whole, for content that is small and read whole; files that may be large
(dataset files) are sealed in segments by :mod:`deskscribe.segments` under a :func:`subkey`.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from deskscribe.errors import DataKeyError
from deskscribe.keystore import KEY_BYTES

NONCE_BYTES = 12


def subkey(key: bytes, context: str) -> bytes:
    """A key for one purpose only, derived from ``key``: erasing ``key`` erases it too, and
    handing it out (one dataset file's key) reveals nothing else under ``key``."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=b"deskscribe/v1/" + context.encode()).derive(key)


class Sealer:
    """AES-GCM under a key derived for one purpose (a session); binds each blob to its slot."""

    def __init__(self, *, contributor_key: bytes, context: str) -> None:
        self._aead = AESGCM(subkey(contributor_key, context))

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


def dataset_file_context(dataset_id: str, name: str) -> str:
    """What one dataset file's key and segments are bound to; the collector seals under it and
    the downloading client opens under it, so a file served under another name fails."""
    return f"dataset/{dataset_id}/file/{name}"
