"""Authenticated encryption of session content under the contributor's data key.

Each session uses a key derived from the contributor key with HKDF, so erasing the one key
makes every session unreadable, and each blob is bound to its slot so blobs cannot be swapped.
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
