"""The data directory's copies of a session: what leaves the device, and what review keeps."""

from pathlib import Path

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend

MS = 1_000_000


def meta(session_id: str) -> SessionMeta:
    return SessionMeta(session_id=session_id, contributor_id="c-1", started_wall_ns=1, os="Linux",
                       monitors=(Monitor(0, 0, 800, 600),), double_click_ms=400, double_click_px=5,
                       policy_version="p1", recorder_version="0", extra={"timing_precision_ms": 100})


def test_the_upload_copy_rounds_every_time_to_the_policy_precision(tmp_path: Path) -> None:
    dd = DataDir(root=tmp_path, key_backend=FileKeyBackend(path=tmp_path / "contributor.key"))
    with dd.create(meta("aa01")) as w:
        w.add_event(Event(t_ns=1234 * MS, kind="marker", data={"marker": "start"}))
    path = dd.outbox.upload_copy("aa01", write=dd.write_upload_copy)
    assert path.parent == tmp_path / "outbox"
    copy = DataDir(root=tmp_path / "copy", key_backend=FileKeyBackend(path=tmp_path / "contributor.key"))
    copy.sessions_dir.mkdir(parents=True)
    path.rename(copy.path_of("aa01"))
    with copy.open("aa01") as reader:
        assert [e.t_ns for _, e in reader.iter_events()] == [1200 * MS]


def test_deleting_a_session_drops_its_upload_copy(tmp_path: Path) -> None:
    dd = DataDir(root=tmp_path, key_backend=FileKeyBackend(path=tmp_path / "contributor.key"))
    with dd.create(meta("aa02")) as w:
        w.add_event(Event(t_ns=0, kind="marker", data={"marker": "start"}))
    path = dd.outbox.upload_copy("aa02", write=dd.write_upload_copy)
    dd.delete("aa02")
    assert not path.exists() and dd.session_ids() == []
