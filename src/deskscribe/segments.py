"""Files sealed in fixed-size AEAD segments, so they are encrypted and decrypted streaming.

The STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015), as age and Tink use it:
the plaintext is cut into segments of ``segment_bytes``; segment *i* is sealed with AES-256-GCM
under the nonce ``prefix || i || last`` (7 random bytes, a 32-bit counter, a flag byte that is
1 only on the final segment), so a reordered, dropped, duplicated or appended segment, and a
file cut at a segment boundary, all fail authentication. The key is derived per file from the
caller's key and a random salt in the header, and the header is every segment's associated
data. Hand-written over ``cryptography``'s AESGCM rather than taken from age (pyrage): age
wraps each file's key in the file's header for age's own recipient types, while here a file's
key is derived from the dataset key and handed to each downloader HPKE-wrapped, and a
downloader opens the body from an HTTP stream as it arrives; pyrage offers no way to open a
payload with a key held outside its header.

Layout: ``DSKSEG1\\0 | segment_bytes (u32 BE) | salt (16) | prefix (7)`` then the segments,
each ``ciphertext || tag``; the last one may be shorter and is never missing (an empty file is
one empty final segment).
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from deskscribe.errors import DataKeyError

MAGIC = b"DSKSEG1\x00"
SEGMENT_BYTES = 1 << 20
SALT_BYTES = 16
PREFIX_BYTES = 7
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + 4 + SALT_BYTES + PREFIX_BYTES
MAX_SEGMENTS = 1 << 32
MAX_SEGMENT_BYTES = 1 << 24


def _aead(key: bytes, salt: bytes, context: str) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                       info=b"deskscribe/v1/segments/" + context.encode()).derive(key))


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= MAX_SEGMENTS:
        raise DataKeyError("a sealed file may hold at most 2^32 segments")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def seal_chunks(chunks: Iterable[bytes], *, key: bytes, context: str,
                segment_bytes: int = SEGMENT_BYTES) -> Iterator[bytes]:
    """The sealed stream of the plaintext ``chunks`` (any sizes): the header, then one
    sealed segment at a time; a segment is held back until the next shows it is not last."""
    if not 0 < segment_bytes <= MAX_SEGMENT_BYTES:
        raise ValueError(f"segment_bytes must be 1..{MAX_SEGMENT_BYTES}")
    salt, prefix = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(PREFIX_BYTES)
    header = MAGIC + struct.pack(">I", segment_bytes) + salt + prefix
    aead, index, pending = _aead(key, salt, context), 0, bytearray()
    yield header
    for chunk in chunks:
        pending += chunk
        pos = 0
        while len(pending) - pos > segment_bytes:
            segment = bytes(pending[pos:pos + segment_bytes])
            yield aead.encrypt(_nonce(prefix, index, False), segment, header)
            pos, index = pos + segment_bytes, index + 1
        del pending[:pos]
    yield aead.encrypt(_nonce(prefix, index, True), bytes(pending), header)


class SegmentOpener:
    """Opens a sealed stream fed in pieces of any size (a file, an HTTP body); what it returns
    is authentic, and :meth:`close` fails unless the final segment arrived and nothing after it."""

    def __init__(self, *, key: bytes, context: str) -> None:
        self._key, self._context = key, context
        self._buf = bytearray()
        self._header: bytes | None = None
        self._aead: AESGCM | None = None
        self._prefix = b""
        self._sealed = 0
        self._index = 0

    def feed(self, data: bytes) -> bytes:
        """The plaintext of every segment ``data`` completes, except one that may be the last."""
        self._buf += data
        if self._header is None and not self._read_header():
            return b""
        out, pos = bytearray(), 0
        while len(self._buf) - pos > self._sealed:  # more follows, so this one is not the last
            out += self._open(bytes(self._buf[pos:pos + self._sealed]), last=False)
            pos += self._sealed
        del self._buf[:pos]
        return bytes(out)

    def close(self) -> bytes:
        """The final segment's plaintext; a stream cut short or extended fails here."""
        if self._header is None or len(self._buf) < TAG_BYTES:
            raise DataKeyError("the sealed file is truncated")
        last = self._open(bytes(self._buf), last=True)
        self._buf.clear()
        return last

    def _read_header(self) -> bool:
        if len(self._buf) < HEADER_BYTES:
            if not MAGIC.startswith(bytes(self._buf[:len(MAGIC)])):
                raise DataKeyError("not a file sealed in segments (wrong header)")
            return False
        header = bytes(self._buf[:HEADER_BYTES])
        if not header.startswith(MAGIC):
            raise DataKeyError("not a file sealed in segments (wrong header)")
        (size,) = struct.unpack(">I", header[len(MAGIC):len(MAGIC) + 4])
        if not 0 < size <= MAX_SEGMENT_BYTES:
            raise DataKeyError("the sealed file's header is damaged")
        salt = header[len(MAGIC) + 4:len(MAGIC) + 4 + SALT_BYTES]
        self._header, self._prefix = header, header[-PREFIX_BYTES:]
        self._aead, self._sealed = _aead(self._key, salt, self._context), size + TAG_BYTES
        del self._buf[:HEADER_BYTES]
        return True

    def _open(self, sealed: bytes, *, last: bool) -> bytes:
        assert self._aead is not None and self._header is not None
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._index, last), sealed, self._header)
        except InvalidTag:
            raise DataKeyError(f"the sealed file is damaged, reordered, truncated or extended"
                               f" (segment {self._index}), or the key is wrong") from None
        self._index += 1
        return plain


def read_chunks(fh: BinaryIO, size: int = SEGMENT_BYTES) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


def seal_file(src: Path, dst: Path, *, key: bytes, context: str,
              segment_bytes: int = SEGMENT_BYTES) -> int:
    """Seal ``src`` into ``dst`` reading and writing one segment at a time; bytes written."""
    written = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for piece in seal_chunks(read_chunks(fin, segment_bytes), key=key, context=context,
                                 segment_bytes=segment_bytes):
            written += fout.write(piece)
    return written


def open_chunks(chunks: Iterable[bytes], *, key: bytes, context: str) -> Iterator[bytes]:
    """The authentic plaintext of a sealed stream, segment by segment; raises
    :class:`DataKeyError` at the first damaged segment or at a missing end."""
    opener = SegmentOpener(key=key, context=context)
    for chunk in chunks:
        if plain := opener.feed(chunk):
            yield plain
    yield opener.close()


def is_sealed_in_segments(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC
