import dataclasses
import sqlite3
from pathlib import Path

import pytest

from deskscribe.datadir import DataDir
from deskscribe.errors import DataKeyError, StoreError
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.frame_codec import FramePart, FrameRecord
from deskscribe.keystore import FileKeyBackend
from deskscribe.sealer import Sealer
from deskscribe.store import SessionReader, SessionWriter


def meta(session_id: str) -> SessionMeta:
    return SessionMeta(session_id=session_id, contributor_id="c-1", started_wall_ns=1,
                       os="Linux", monitors=(Monitor(0, 0, 800, 600),), double_click_ms=400,
                       double_click_px=5, policy_version="p1", recorder_version="0")


def datadir(root: Path) -> DataDir:
    return DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))


def record_session(dd: DataDir, sid: str, texts: list[str]) -> None:
    w = dd.create(meta(sid))
    for i, text in enumerate(texts):
        w.add_event(Event(t_ns=i, kind="key_down", data={"key": text, "char": text, "vk": 1, "mods": []}))
    w.add_frame(FrameRecord(w.reserve_frame_id(), 5, None, (2, 2), (FramePart(0, 0, 2, 2, b"png"),)))
    w.close()


def test_roundtrip_and_no_plaintext_at_rest(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    record_session(dd, "aa01", ["SECRETWORD", "x"])
    reader = dd.open("aa01")
    events = list(reader.iter_events())
    assert [e.data["char"] for _, e in events] == ["SECRETWORD", "x"]
    assert [i for i, _ in events] == [1, 2]
    assert reader.sealed and reader.meta.policy_version == "p1"
    assert reader.frame_record(1).parts[0].png == b"png"
    reader.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "sessions").iterdir())
    assert b"SECRETWORD" not in raw and b"Linux" not in raw
    assert oct((tmp_path / "contributor.key").stat().st_mode)[-3:] == "600"


def test_erasing_the_key_makes_sessions_unreadable(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    record_session(dd, "aa02", ["x"])
    (tmp_path / "contributor.key").unlink()
    with pytest.raises(DataKeyError, match="no data key"):
        datadir(tmp_path).open("aa02")
    assert not (tmp_path / "contributor.key").exists()  # reading never mints a new key
    record_session(datadir(tmp_path), "aa09", ["y"])  # recording does; old sessions stay sealed away
    with pytest.raises(DataKeyError, match="wrong data key"):
        list(datadir(tmp_path).open("aa02").iter_events())


def test_swapped_blobs_are_detected(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    record_session(dd, "aa03", ["x"])
    record_session(dd, "aa04", ["y"])
    a = sqlite3.connect(tmp_path / "sessions" / "aa03.db")
    b = sqlite3.connect(tmp_path / "sessions" / "aa04.db")
    blob = b.execute("SELECT blob FROM chunks").fetchone()[0]
    a.execute("UPDATE chunks SET blob=?", (blob,))
    a.commit()
    with pytest.raises(DataKeyError):
        list(dd.open("aa03").iter_events())


def test_damaged_file_gives_a_clear_error_and_is_listed(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    record_session(dd, "aa05", ["x"])
    (tmp_path / "sessions" / "bb06.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="damaged"):
        dd.open("bb06")
    infos = {i.session_id: i for i in dd.sessions()}
    assert infos["bb06"].error and infos["aa05"].error is None


def test_bad_session_ids_never_touch_other_paths(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    for bad in ("../x", "", "AB", "a/b"):
        with pytest.raises(StoreError, match="not a session id"):
            dd.open(bad)


def test_budget_deletes_oldest_sealed_sessions_first(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    for sid, wall in (("aa10", 3), ("aa11", 1), ("aa12", 2)):
        w = dd.create(dataclasses.replace(meta(sid), started_wall_ns=wall))
        w.add_event(Event(t_ns=0, kind="marker", data={"marker": "start"}))
        w.close(seal=sid != "aa11")
    size = dd.info("aa10").size_bytes
    deleted = dd.enforce_budget(size * 2 + 1)
    assert deleted == ["aa12"]  # aa11 is older but unsealed: never deleted by the budget
    assert set(dd.session_ids()) == {"aa10", "aa11"}


def test_reader_and_writer_close_when_their_block_ends(tmp_path: Path) -> None:
    sealer = Sealer(contributor_key=b"k" * 32, context="session/aa20")
    path = tmp_path / "aa20.db"
    with SessionWriter(path=path, meta=meta("aa20"), sealer=sealer) as w:
        w.add_event(Event(t_ns=0, kind="marker", data={"marker": "start"}))
    assert not path.with_name(path.name + "-wal").exists()  # checkpointed and closed
    with SessionReader(path=path, sealer=sealer) as reader:
        assert reader.sealed and [e.kind for _, e in reader.iter_events()] == ["marker"]
    with pytest.raises(sqlite3.ProgrammingError):
        reader.counts()


def test_a_writer_left_by_an_error_is_closed_and_sealed_as_close_does(tmp_path: Path) -> None:
    sealer = Sealer(contributor_key=b"k" * 32, context="session/aa21")
    path = tmp_path / "aa21.db"
    with pytest.raises(RuntimeError), SessionWriter(path=path, meta=meta("aa21"), sealer=sealer) as w:
        w.add_event(Event(t_ns=0, kind="marker", data={"marker": "start"}))
        raise RuntimeError("capture failed")
    with SessionReader(path=path, sealer=sealer) as reader:
        assert reader.sealed and reader.counts()[0] == 1


def test_frame_chains_are_read_back_from_the_keyframe(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    w = dd.create(meta("aa22"))
    part = (FramePart(0, 0, 1, 1, b"p"),)
    for frame_id, base in ((1, None), (2, 1), (3, None), (4, 3), (5, 3)):
        w.add_frame(FrameRecord(w.reserve_frame_id(), frame_id, base, (1, 1), part))
    w.close()
    with dd.open("aa22") as reader:
        assert [r.frame_id for r in reader.frame_chain(5)] == [3, 4, 5]
        assert [r.frame_id for r in reader.frames_between(3, 3, 5)] == [4, 5]
        assert reader.frame_ids() == [1, 2, 3, 4, 5]
