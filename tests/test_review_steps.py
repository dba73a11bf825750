"""Deleting single steps in review: the step's actions and the screenshots shown with it leave
the encrypted session; every other step and screenshot stays exactly as recorded."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.frame_codec import FramePart, FrameRecord, rebuild
from deskscribe.keystore import FileKeyBackend
from tests.support import run

MS = 1_000_000


def png(colour: str, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def session(root: Path) -> str:
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 200, 100),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    frames = [(50, None, [FramePart(0, 0, 200, 100, png("white", (200, 100)))]),
              (900, 1, [FramePart(10, 10, 50, 20, png("red", (50, 20)))]),  # shows the plan being typed
              (2900, 1, [FramePart(100, 50, 40, 40, png("blue", (40, 40)))])]
    w.add_event(Event(t_ns=0, kind="focus", data={"app": "XTerm", "title": "t", "pid": 1, "geometry": [0, 0, 200, 100]}))
    for i, (t, base, parts) in enumerate(frames, start=1):
        w.reserve_frame_id()
        w.add_frame(FrameRecord(i, t * MS, base, (200, 100), tuple(parts)))
        w.add_event(Event(t_ns=t * MS, kind="frame", data={"frame_id": i, "reason": "click", "region": [0, 0, 200, 100]}))
        if i == 1:
            w.add_event(Event(t_ns=100 * MS, kind="mouse_down", data={"x": 20, "y": 20, "button": "left"}))
            w.add_event(Event(t_ns=150 * MS, kind="mouse_up", data={"x": 20, "y": 20, "button": "left"}))
        if i == 2:
            for j, ch in enumerate("takeover plan"):
                t_key = (1000 + 60 * j) * MS
                w.add_event(Event(t_ns=t_key, kind="key_down", data={"key": ch, "char": ch, "vk": 0, "mods": []}))
                w.add_event(Event(t_ns=t_key + 20 * MS, kind="key_up", data={"key": ch, "char": ch, "vk": 0, "mods": []}))
    w.add_event(Event(t_ns=3000 * MS, kind="mouse_down", data={"x": 120, "y": 70, "button": "left"}))
    w.add_event(Event(t_ns=3050 * MS, kind="mouse_up", data={"x": 120, "y": 70, "button": "left"}))
    w.close(seal=True)
    return sid


def test_deleting_a_step_removes_its_keys_and_screenshot_and_keeps_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "d"
    sid = session(root)
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    reader = dd.open(sid)
    third_before = rebuild(reader.frame_chain(3)).tobytes()
    reader.close()
    shown = run("review", "show", sid, "--data-dir", str(root)).stdout
    assert "type 'takeover plan'" in shown and "  3  " in shown

    run("review", "approve", sid, "--data-dir", str(root))
    out = run("review", "drop", sid, "2", "--data-dir", str(root)).stdout
    assert "needs approving again" in out and "1 screenshot" in out

    after = run("review", "show", sid, "--data-dir", str(root)).stdout
    assert "takeover" not in after and after.count(" click ") == 2
    dump = run("sessions", "dump", sid, "--data-dir", str(root)).stdout
    assert "takeover" not in dump and '"key": "t"' not in dump
    rows = [json.loads(line) for line in dump.splitlines()]
    assert [r["frame_id"] for r in rows if r["kind"] == "frame"] == [1, 3]
    raw = b"".join(p.read_bytes() for p in (root / "sessions").iterdir())
    assert b"takeover" not in raw  # still encrypted at rest
    reader = dd.open(sid)
    assert reader.sealed and reader.frame_ids() == [1, 3]
    assert rebuild(reader.frame_chain(3)).tobytes() == third_before  # the kept screenshot is unchanged
    reader.close()
    bad = run("review", "drop", sid, "9", "--data-dir", str(root))
    assert bad.returncode == 2 and "this session has steps 1-2" in bad.stderr
