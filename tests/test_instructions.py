"""Instructions given in review: sealed beside the session, which stays byte for byte as sealed,
carried by the upload copy, gone with the session."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import pytest

from deskscribe import instructions
from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export.jsonl import JsonlExporter
from deskscribe.errors import DataKeyError
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.instructions import Annotation
from deskscribe.keystore import FileKeyBackend
from deskscribe.sealer import Sealer

MS = 1_000_000


def datadir(root: Path) -> DataDir:
    return DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))


def session(dd: DataDir) -> str:
    """Two clicks, 1.234 s and 3.456 s in, under a policy that keeps times to 100 ms."""
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id="c", started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 100, 100),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r", extra={"timing_precision_ms": 100}))
    for t, x in ((1234, 10), (3456, 50)):
        w.add_event(Event(t_ns=t * MS, kind="mouse_down", data={"x": x, "y": 10, "button": "left"}))
        w.add_event(Event(t_ns=(t + 50) * MS, kind="mouse_up", data={"x": x, "y": 10, "button": "left"}))
    w.close()
    return sid


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_annotations_are_sealed_beside_the_untouched_session(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    sid = session(dd)
    db = dd.path_of(sid)
    before = digest(db)
    dd.annotate(sid, Annotation(t_first_ns=1234 * MS, t_last_ns=3506 * MS, instruction="Compare the two reports"))
    dd.annotate(sid, Annotation(t_first_ns=1234 * MS, t_last_ns=3506 * MS, instruction="Compare both reports"))
    assert digest(db) == before
    beside = instructions.sidecar(db)
    assert beside.exists() and beside.stat().st_mode & 0o077 == 0
    assert b"reports" not in beside.read_bytes()
    assert dd.session_ids() == [sid]
    with datadir(tmp_path).open(sid) as reader:  # as a new process would
        assert [a.instruction for a in reader.annotations()] == ["Compare both reports"]
    other = Sealer(contributor_key=dd.data_key(), context="session/000000000000")
    with pytest.raises(DataKeyError):
        instructions.read(beside, other)  # bound to its own session's key


def test_a_correction_replaces_only_the_annotation_of_its_episode() -> None:
    one = Annotation(t_first_ns=0, t_last_ns=10, instruction="first")
    two = Annotation(t_first_ns=20, t_last_ns=30, instruction="second")
    fixed = Annotation(t_first_ns=0, t_last_ns=10, instruction="first, corrected")
    assert instructions.with_annotation([two, one], fixed) == [fixed, two]
    assert instructions.coarse([Annotation(t_first_ns=1234 * MS, t_last_ns=3506 * MS, instruction="x")],
                               100 * MS) == [Annotation(t_first_ns=1200 * MS, t_last_ns=3500 * MS, instruction="x")]


def test_the_upload_copy_carries_them_with_coarse_times_and_a_build_of_it_applies_them(tmp_path: Path) -> None:
    dd = datadir(tmp_path / "device")
    sid = session(dd)
    dd.annotate(sid, Annotation(t_first_ns=1234 * MS, t_last_ns=3506 * MS, instruction="Compare both reports",
                                redacted=("NAME",)))
    copy = tmp_path / "copy.db"
    dd.write_upload_copy(sid, copy)
    assert b"Compare" not in copy.read_bytes()
    with tempfile.TemporaryDirectory() as elsewhere:  # the collector: the copy alone, nothing beside it
        there = DataDir(root=Path(elsewhere), key_backend=FileKeyBackend(path=tmp_path / "device" / "contributor.key"))
        there.sessions_dir.mkdir()
        there.path_of(sid).write_bytes(copy.read_bytes())
        with there.open(sid) as reader:
            assert reader.annotations() == [Annotation(t_first_ns=1200 * MS, t_last_ns=3500 * MS,
                                                       instruction="Compare both reports", redacted=("NAME",))]
        out = tmp_path / "out"
        build_dataset(open_session=there.open, session_ids=[sid], exporter=JsonlExporter(out=out),
                      release=Release(key=b"k" * 16), fmt="jsonl")
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert {(s["instruction"], s["instruction_source"], tuple(s["flags"])) for s in steps} == {
        ("Compare both reports", "review", ("redacted",))}


def test_deleting_steps_keeps_them_and_deleting_the_session_removes_them(tmp_path: Path) -> None:
    dd = datadir(tmp_path)
    sid = session(dd)
    dd.annotate(sid, Annotation(t_first_ns=1234 * MS, t_last_ns=3506 * MS, instruction="Compare both reports"))
    dd.rewrite(sid, drop_events={1, 2}, drop_frames=set())  # the first click
    with dd.open(sid) as reader:
        assert [e.t_ns for _, e in reader.iter_events()] == [3456 * MS, 3506 * MS]
        assert [a.instruction for a in reader.annotations()] == ["Compare both reports"]
    dd.delete(sid)
    assert not instructions.sidecar(dd.path_of(sid)).exists()
