"""Session content sealed under the contributor key: bound to its context and its slot."""

import pytest

from deskscribe.errors import DataKeyError
from deskscribe.sealer import Sealer


def test_sealed_blobs_are_bound_to_their_slot_and_context() -> None:
    key = b"k" * 32
    blob = Sealer(contributor_key=key, context="session/a").seal(b"hello", slot="chunk/1")
    assert Sealer(contributor_key=key, context="session/a").open(blob, slot="chunk/1") == b"hello"
    for context, slot in (("session/b", "chunk/1"), ("session/a", "chunk/2")):
        with pytest.raises(DataKeyError):
            Sealer(contributor_key=key, context=context).open(blob, slot=slot)


def test_a_blob_under_another_contributor_key_names_the_likely_cause() -> None:
    blob = Sealer(contributor_key=b"a" * 32, context="session/a").seal(b"x", slot="meta/session")
    with pytest.raises(DataKeyError, match="wrong data key"):
        Sealer(contributor_key=b"b" * 32, context="session/a").open(blob, slot="meta/session")


def test_a_subkey_is_the_sessions_key_and_differs_per_purpose() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from deskscribe.sealer import dataset_file_context, subkey

    key = b"k" * 32
    blob = Sealer(contributor_key=key, context="session/a").seal(b"x", slot="s")
    assert AESGCM(subkey(key, "session/a")).decrypt(blob[:12], blob[12:], b"s") == b"x"  # same derivation
    files = {subkey(key, dataset_file_context("d1", name)) for name in ("a", "b", "data/a")}
    assert len(files) == 3 and subkey(key, dataset_file_context("d2", "a")) not in files
