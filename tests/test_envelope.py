"""Keys wrapped for the collector with HPKE (ML-KEM-768 + X25519): only that collector, for that
binding, opens them; boxes and key files from before HPKE stay readable."""

import base64
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from deskscribe.envelope import (
    LEGACY_WRAPPED_BYTES,
    PREFIX,
    PUBLIC_BYTES,
    WRAPPED_BYTES,
    is_current,
    load_or_create_private,
    new_collector_key,
    public_of,
    unwrap_key,
    wrap_key,
)
from deskscribe.errors import DataKeyError


def old_box(data_key: bytes, recipient: bytes, contributor: str) -> bytes:
    """The wrap of collectors before HPKE, as they wrote it (kept here to test reading it)."""
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient))
    kek = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub + recipient,
                      info=b"deskscribe/v1/wrap/" + contributor.encode()).derive(shared))
    nonce = secrets.token_bytes(12)
    return eph_pub + nonce + kek.encrypt(nonce, data_key, contributor.encode())


def test_an_hpke_wrapped_key_opens_with_the_collector_private_key() -> None:
    private, data_key = new_collector_key(), b"d" * 32
    wrapped = wrap_key(data_key, recipient=public_of(private), contributor="c-1")
    assert len(public_of(private)) == PUBLIC_BYTES == 1184 + 32
    assert len(wrapped) == WRAPPED_BYTES and data_key not in wrapped
    assert unwrap_key(wrapped, private=private, contributor="c-1") == data_key
    assert wrap_key(data_key, recipient=public_of(private), contributor="c-1") != wrapped  # ephemeral


def test_the_wrapped_value_carries_its_format_and_is_not_the_old_box() -> None:
    private = new_collector_key()
    wrapped = wrap_key(b"d" * 32, recipient=public_of(private), contributor="c-1")
    assert wrapped.startswith(PREFIX) and is_current(wrapped)
    assert len(wrapped) != LEGACY_WRAPPED_BYTES and len(wrapped) > 1100  # carries the ML-KEM ciphertext
    legacy = X25519PrivateKey.generate()
    box = old_box(b"d" * 32, legacy.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), "c-1")
    assert not is_current(box)


@pytest.mark.parametrize("who", ["other collector", "other contributor", "dataset binding"])
def test_a_wrapped_key_cannot_be_replayed_elsewhere(who: str) -> None:
    private = new_collector_key()
    wrapped = wrap_key(b"d" * 32, recipient=public_of(private), contributor="c-1")
    key, binding = {"other collector": (new_collector_key(), "c-1"), "other contributor": (private, "c-2"),
                    "dataset binding": (private, "dataset/c-1")}[who]
    with pytest.raises(DataKeyError, match="not wrapped for this collector"):
        unwrap_key(wrapped, private=key, contributor=binding)


@pytest.mark.parametrize("at", [len(PREFIX), 600, WRAPPED_BYTES - 20, WRAPPED_BYTES - 1])
def test_a_tampered_wrapped_key_is_refused(at: int) -> None:
    private = new_collector_key()
    wrapped = bytearray(wrap_key(b"d" * 32, recipient=public_of(private), contributor="c-1"))
    wrapped[at] ^= 0x01
    with pytest.raises(DataKeyError):
        unwrap_key(bytes(wrapped), private=private, contributor="c-1")


def test_a_truncated_or_unknown_wrapped_key_is_refused() -> None:
    private = new_collector_key()
    wrapped = wrap_key(b"d" * 32, recipient=public_of(private), contributor="c-1")
    for bad in (wrapped[:-1], b"XXXX" + wrapped[4:], b"x" * LEGACY_WRAPPED_BYTES):
        with pytest.raises(DataKeyError, match="wrong length or format"):
            unwrap_key(bad, private=private, contributor="c-1")


def test_an_old_x25519_collector_key_cannot_be_wrapped_for() -> None:
    old_public = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(DataKeyError, match="fetch it again from /v1/collector-key"):
        wrap_key(b"d" * 32, recipient=old_public, contributor="c-1")


def test_the_collector_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "collector" / "collector.key"
    private = load_or_create_private(path)
    assert load_or_create_private(path) == private and len(public_of(private)) == PUBLIC_BYTES
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert path.read_text().startswith("hpke-mlkem768x25519 ")


def test_an_old_key_file_gains_a_hybrid_pair_and_still_opens_old_boxes(tmp_path: Path) -> None:
    legacy = X25519PrivateKey.generate()
    path = tmp_path / "collector.key"
    path.write_text(base64.b64encode(legacy.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
                    .decode() + "\n")
    path.chmod(0o600)
    box = old_box(b"k" * 32, legacy.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), "c-1")
    private = load_or_create_private(path)
    assert unwrap_key(box, private=private, contributor="c-1") == b"k" * 32
    with pytest.raises(DataKeyError, match="not wrapped for this collector"):
        unwrap_key(box, private=private, contributor="c-2")
    assert load_or_create_private(path) == private  # upgraded once; the file now holds both keys
    assert sorted(line.split()[0] for line in path.read_text().splitlines()) == ["hpke-mlkem768x25519", "x25519"]
    assert oct(path.stat().st_mode)[-3:] == "600" and not list(tmp_path.glob("*.new"))
    wrapped = wrap_key(b"k" * 32, recipient=public_of(private), contributor="c-1")
    assert unwrap_key(wrapped, private=private, contributor="c-1") == b"k" * 32


def test_without_the_old_key_an_old_box_is_refused() -> None:
    legacy = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(DataKeyError, match="wrong length or format"):
        unwrap_key(old_box(b"k" * 32, legacy, "c-1"), private=new_collector_key(), contributor="c-1")


@pytest.mark.parametrize("text", ["not base64!\n", "x25519 AAAA\n", "rsa " + "A" * 44 + "\n", ""])
def test_a_damaged_key_file_is_one_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "collector.key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(DataKeyError, match="damaged"):
        load_or_create_private(path)
    assert path.read_text() == text  # nothing was overwritten


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "collector.key"
    load_or_create_private(path)
    path.chmod(0o644)
    with pytest.raises(DataKeyError, match="chmod 600"):
        load_or_create_private(path)
