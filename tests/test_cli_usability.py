"""The CLI as a person meets it: help, version, counts, ports, damaged sessions, typed codes."""

from __future__ import annotations

import io
import re
import socket
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.frame_codec import FramePart, FrameRecord
from deskscribe.keystore import FileKeyBackend
from tests.support import one_line_error, run

MS = 1_000_000


def sealed_session(root: Path, clicks: int = 1, *, seal: bool = True, frames: int = 0) -> str:
    """A session in ``root`` holding ``clicks`` clicks in XTerm and ``frames`` screenshots, readable
    by the CLI (file key)."""
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=10**18, os="Linux",
                              monitors=(Monitor(0, 0, 800, 600),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    w.add_event(Event(t_ns=0, kind="focus", data={"app": "XTerm", "title": "t", "pid": 1,
                                                  "geometry": [0, 0, 800, 600], "url": None}))
    for i in range(clicks):
        w.add_event(Event(t_ns=(i + 1) * 2000 * MS, kind="mouse_down", data={"x": 10 + 100 * i, "y": 20, "button": "left"}))
        w.add_event(Event(t_ns=(i + 1) * 2000 * MS + 80 * MS, kind="mouse_up", data={"x": 10 + 100 * i, "y": 20, "button": "left"}))
    for frame_id in range(1, frames + 1):
        png = io.BytesIO()
        Image.new("RGB", (800, 600), "white").save(png, format="PNG")
        w.add_frame(FrameRecord(frame_id, frame_id * MS, None, (800, 600), (FramePart(0, 0, 800, 600, png.getvalue()),)))
    w.close(seal=seal)
    return sid


def damage(root: Path, sid: str) -> None:
    """Overwrite the middle of a session file: the header still says SQLite, the pages do not."""
    path = root / "sessions" / f"{sid}.db"
    with sqlite3.connect(path) as c:  # fold the WAL in, so the damage lands on real pages
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\xff" * (path.stat().st_size - 4096))


# -- help and version ------------------------------------------------------------------------


def test_version_flag_prints_the_installed_version() -> None:
    from importlib.metadata import version

    out = run("--version")
    assert out.returncode == 0 and out.stdout == f"deskscribe {version('deskscribe')}\n"


@pytest.mark.parametrize("command", [("record",), ("consent", "accept"), ("me", "delete"), ("sessions", "list"), ()])
def test_flags_in_help_take_no_placeholder(command: tuple[str, ...]) -> None:
    out = run(*command, "--help", env_extra={"COLUMNS": "120"})
    assert out.returncode == 0, out.stderr
    assert "<bool>" not in out.stdout
    assert re.search(r"--help\s+Show this message", out.stdout), out.stdout
    assert "<path>" in out.stdout or not command  # options that do take a value still say what


# -- counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "noun", "plural", "said"), [
    (0, "session", None, "0 sessions"), (1, "session", None, "1 session"), (2, "step", None, "2 steps"),
    (1, "new chunk", None, "1 new chunk"), (3, "entry", "entries", "3 entries"), (1, "entry", "entries", "1 entry"),
])
def test_counts_agree_with_their_noun(n: int, noun: str, plural: str | None, said: str) -> None:
    from deskscribe.cli.plural import count

    assert count(n, noun, plural) == said


def test_a_build_of_one_click_says_one_episode_and_one_step(tmp_path: Path) -> None:
    sealed_session(tmp_path / "d", clicks=1)
    out = run("build", "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "out"), "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert ": 1 episode, " in out.stdout and " 1 steps" not in out.stdout and "1 episodes" not in out.stdout


@pytest.mark.parametrize(("frames", "said"), [(1, "wrote 1 frame to"), (2, "wrote 2 frames to")])
def test_frames_written_are_counted_in_english(tmp_path: Path, frames: int, said: str) -> None:
    sid = sealed_session(tmp_path / "d", frames=frames)
    out = run("sessions", "frames", sid, "--out", str(tmp_path / "f"), "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 0 and out.stdout.startswith(said), out.stdout + out.stderr
    assert len(list((tmp_path / "f").glob("*.png"))) == frames


# -- serve --------------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_serve_refuses_a_port_out_of_range_in_one_line(port: str, tmp_path: Path) -> None:
    one_line_error(run("serve", f"--port={port}", "--data-dir", str(tmp_path)), "--port must be between 1 and 65535")


def test_serve_on_a_taken_port_says_so_before_any_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run("serve", "--port", str(port), "--data-dir", str(tmp_path))
    one_line_error(out, f"port {port} on 127.0.0.1 is in use")
    assert "collector on" not in out.stderr + out.stdout


# -- damaged sessions ---------------------------------------------------------------------------


def test_sessions_list_keeps_every_id_whole_beside_a_long_error(tmp_path: Path) -> None:
    data = tmp_path / "d"
    good = [sealed_session(data), sealed_session(data)]
    broken = "0123456789ab"
    (data / "sessions" / f"{broken}.db").write_bytes(b"garbage" * 1000)
    out = run("sessions", "list", "--data-dir", str(data), env_extra={"COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    table_rows = [line for line in out.stdout.splitlines() if line.startswith("│")]
    for sid in [*good, broken]:
        assert any(f"│ {sid} │" in line for line in table_rows), out.stdout
    assert f"damaged {broken}: session file {broken}.db is damaged" in out.stdout


def test_build_and_review_name_each_session_they_skip_and_go_on(tmp_path: Path) -> None:
    data = tmp_path / "d"
    good = sealed_session(data, clicks=2)
    unreadable = sealed_session(data)
    damage(data, unreadable)
    (data / "sessions" / "0123456789ab.db").write_bytes(b"garbage" * 1000)
    unsealed = sealed_session(data, seal=False)

    built = run("build", "--data-dir", str(data), "--out", str(tmp_path / "out"), "--format", "jsonl")
    assert built.returncode == 0 and "Traceback" not in built.stderr, built.stderr
    warnings = [line for line in built.stderr.splitlines() if line.startswith("warning: skipped session")]
    assert len(warnings) == 3, built.stderr
    assert any("0123456789ab: session file 0123456789ab.db is damaged" in w for w in warnings)
    assert any(f"{unreadable}: " in w and "damaged" in w for w in warnings)
    assert any(f"{unsealed}: not sealed" in w for w in warnings)
    assert "1 episode, 3 steps (click 2, terminate 1)" in built.stdout  # the readable session, whole
    assert len((tmp_path / "out" / "steps.jsonl").read_text().splitlines()) == 3

    reviewed = run("review", "--data-dir", str(data), env_extra={"COLUMNS": "200"})
    assert reviewed.returncode == 0, reviewed.stderr
    assert good in reviewed.stdout and unreadable not in reviewed.stdout
    skipped = [line for line in reviewed.stderr.splitlines() if line.startswith("warning: skipped session")]
    assert {line.split()[3].rstrip(":") for line in skipped} == {"0123456789ab", unreadable, unsealed}


def test_a_named_damaged_session_stops_the_build_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "d"
    sealed_session(data)
    (data / "sessions" / "0123456789ab.db").write_bytes(b"garbage" * 1000)
    one_line_error(run("build", "0123456789ab", "--data-dir", str(data), "--out", str(tmp_path / "out")), "damaged")


# -- enrolment codes ----------------------------------------------------------------------------


def test_a_code_starting_with_a_dash_reaches_the_collector_not_the_option_parser(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    out = run("enrol", f"http://127.0.0.1:{port}", "-Xq3_code-issued-before", "--data-dir", str(tmp_path))
    one_line_error(out, "cannot reach the collector")
    assert "No such option" not in out.stderr
