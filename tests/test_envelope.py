"""The data key wrapped for the collector: only that collector, for that contributor, opens it."""

from pathlib import Path

import pytest

from deskscribe.envelope import (
    WRAPPED_BYTES,
    load_or_create_private,
    new_collector_key,
    public_of,
    unwrap_key,
    wrap_key,
)
from deskscribe.errors import DataKeyError


def test_a_wrapped_key_opens_with_the_collector_private_key() -> None:
    private, data_key = new_collector_key(), b"d" * 32
    wrapped = wrap_key(data_key, recipient=public_of(private), contributor="c-1")
    assert len(wrapped) == WRAPPED_BYTES and data_key not in wrapped
    assert unwrap_key(wrapped, private=private, contributor="c-1") == data_key
    assert wrap_key(data_key, recipient=public_of(private), contributor="c-1") != wrapped  # ephemeral


@pytest.mark.parametrize("who", ["other collector", "other contributor"])
def test_a_wrapped_key_cannot_be_replayed_elsewhere(who: str) -> None:
    private = new_collector_key()
    wrapped = wrap_key(b"d" * 32, recipient=public_of(private), contributor="c-1")
    key, contributor = (new_collector_key(), "c-1") if who == "other collector" else (private, "c-2")
    with pytest.raises(DataKeyError, match="not wrapped for this collector"):
        unwrap_key(wrapped, private=key, contributor=contributor)


def test_a_truncated_wrapped_key_is_refused() -> None:
    with pytest.raises(DataKeyError, match="wrong length"):
        unwrap_key(b"x" * (WRAPPED_BYTES - 1), private=new_collector_key(), contributor="c-1")


def test_the_collector_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "collector" / "collector.key"
    private = load_or_create_private(path)
    assert load_or_create_private(path) == private and len(public_of(private)) == 32
    assert oct(path.stat().st_mode)[-3:] == "600"
