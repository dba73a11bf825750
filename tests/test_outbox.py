"""Approvals and upload copies: one owner for what waits to leave the device."""

from pathlib import Path

import pytest

from deskscribe.errors import StoreError
from deskscribe.outbox import Outbox


class Wall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_approvals_wait_in_order_until_uploaded(tmp_path: Path) -> None:
    wall = Wall()
    box = Outbox(root=tmp_path, wall_s=wall)
    box.approve("bb")
    wall.now += 1
    box.approve("aa")
    box.approve("bb")  # approving again keeps the first approval's place
    assert box.pending() == ["bb", "aa"] and box.approved() == {"aa", "bb"}
    box.mark_uploaded("bb")
    assert box.pending() == ["aa"] and box.approved() == {"aa", "bb"}
    box.forget("aa")
    assert Outbox(root=tmp_path).pending() == [] and (tmp_path / "outbox.json").exists()


def test_auto_approval_takes_only_sessions_sealed_long_enough_ago(tmp_path: Path) -> None:
    wall = Wall()
    box = Outbox(root=tmp_path, wall_s=wall)
    box.approve("cc")
    due = box.auto_approve({"aa": wall.now - 7200, "bb": wall.now - 60, "cc": 0.0}, hours=1)
    assert due == ["aa"] and box.approved() == {"aa", "cc"}
    assert box.auto_approve({"bb": wall.now - 60}, hours=1) == []


def test_a_damaged_outbox_is_a_store_error_that_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "outbox.json").write_text("{not json")
    with pytest.raises(StoreError, match=r"the outbox .*outbox.json is damaged .*; delete it and approve again"):
        Outbox(root=tmp_path).approved()


def test_an_upload_copy_is_made_once_and_goes_when_uploaded(tmp_path: Path) -> None:
    box = Outbox(root=tmp_path)
    made: list[Path] = []

    def write(session_id: str, dest: Path) -> None:
        made.append(dest)
        dest.write_bytes(session_id.encode())

    path = box.upload_copy("aa", write=write)
    assert path == tmp_path / "outbox" / "aa.db" and path.read_bytes() == b"aa"
    assert box.upload_copy("aa", write=write) == path and len(made) == 1  # a resumed upload: same bytes
    assert made[0] != path  # written aside first, so a cut copy is never taken for a made one
    box.approve("aa")
    box.mark_uploaded("aa")
    assert not path.exists()


def test_a_copy_cut_short_is_not_kept(tmp_path: Path) -> None:
    box = Outbox(root=tmp_path)

    def fail(session_id: str, dest: Path) -> None:
        dest.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        box.upload_copy("aa", write=fail)
    assert not box.copy_path("aa").exists()


def test_remove_takes_approvals_and_copies_together(tmp_path: Path) -> None:
    box = Outbox(root=tmp_path)
    box.approve("aa")
    box.upload_copy("aa", write=lambda sid, dest: dest.write_bytes(b"x"))
    box.remove()
    assert not (tmp_path / "outbox.json").exists() and not (tmp_path / "outbox").exists()
    box.remove()  # nothing left is not an error
