"""The native messaging host run as its own process, started as a browser starts it, against a
real control server with a "browser" stream: framing both ways, the size caps, no recorder, the
end of either side, and nothing written to disk."""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from deskscribe.browser.native_host import HELLO, MAX_MESSAGE
from deskscribe.control import Channel, ControlServer, socket_path

WAIT_S = 20.0
CHROME_ARGS = ("chrome-extension://kpflahigpogfocfacjlndoaadafdihab/", "--parent-window=0")
FIREFOX_ARGS = ("/home/u/.mozilla/native-messaging-hosts/org.deskscribe.host.json", "deskscribe@deskscribe.org")
HELLO_MSG = {"v": 1, "type": "hello", "extension": "0.1.0", "browser": "chromium", "ua": "Mozilla/5.0 ü ✓ 日本"}


def frame(obj: dict[str, Any]) -> bytes:
    """A message as Chrome frames it: 4-byte native-endian length, then UTF-8 JSON."""
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return struct.pack("=I", len(body)) + body


def read_frame(out: IO[bytes]) -> dict[str, Any]:
    header = out.read(4)
    assert len(header) == 4, "the host sent no framed message"
    (length,) = struct.unpack("=I", header)
    message = json.loads(out.read(length).decode("utf-8"))
    assert isinstance(message, dict)
    return message


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime."""
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in [root, *root.rglob("*")]}


class Recorder:
    """The recorder's side of the "browser" stream: what arrives, and a way to answer."""

    def __init__(self, data_dir: Path, *, close_after: int | None = None) -> None:
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.channels: queue.Queue[Channel] = queue.Queue()
        self.ended: queue.Queue[Channel] = queue.Queue()
        self._close_after = close_after
        self.server = ControlServer(path=socket_path(data_dir), handle=lambda req: {"ok": True},
                                    streams={"browser": self._attach})

    def _attach(self, channel: Channel) -> None:
        self.channels.put(channel)
        for n, message in enumerate(channel.receive(), start=1):
            self.received.put(message)
            if n == self._close_after:
                break
        self.ended.put(channel)

    def channel(self) -> Channel:
        return self.channels.get(timeout=WAIT_S)

    def all_received(self) -> list[dict[str, Any]]:
        return [self.received.get_nowait() for _ in range(self.received.qsize())]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    dirs = {"HOME": home, "XDG_CONFIG_HOME": home / ".config", "XDG_DATA_HOME": home / ".local" / "share",
            "XDG_CACHE_HOME": home / ".cache", "XDG_STATE_HOME": home / ".local" / "state"}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return {**os.environ, **{k: str(v) for k, v in dirs.items()}}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def recorder(data_dir: Path) -> Iterator[Recorder]:
    rec = Recorder(data_dir)
    rec.server.start()
    try:
        yield rec
    finally:
        rec.server.stop()


def start_host(data_dir: Path, env: dict[str, str], args: tuple[str, ...] = CHROME_ARGS
               ) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "deskscribe", "browser", "host", "--data-dir", str(data_dir),
                             *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def finish(host: subprocess.Popen[bytes]) -> tuple[int, bytes, str]:
    """Close the host's stdin as the browser does and collect how it ended."""
    out, err = host.communicate(timeout=WAIT_S)
    return host.returncode, out, err.decode()


def one_line(stderr: str, needle: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], stderr


@pytest.mark.parametrize("args", [CHROME_ARGS, FIREFOX_ARGS], ids=["chrome", "firefox"])
def test_messages_reach_the_recorder_unchanged_and_answers_come_back_framed(
        recorder: Recorder, data_dir: Path, env: dict[str, str], args: tuple[str, ...]) -> None:
    host = start_host(data_dir, env, args)
    assert host.stdin is not None and host.stdout is not None
    host.stdin.write(frame(HELLO_MSG))
    host.stdin.flush()
    channel = recorder.channel()
    assert channel.hello == HELLO
    assert recorder.received.get(timeout=WAIT_S) == HELLO_MSG
    answers = [{"v": 1, "type": "config", "protocol": 1, "designated_sites": ["https://*.example.com/*"]},
               {"v": 1, "type": "snapshot", "request": 7, "window_id": 3, "note": "ü ✓ 日本"}]
    for answer in answers:
        assert channel.send(answer)
    assert [read_frame(host.stdout) for _ in answers] == answers
    window = {"v": 1, "type": "window", "seq": 2, "window_id": 3, "focused": True, "bounds": [0, 0, 800, 600]}
    host.stdin.write(frame(window) + frame({"v": 1, "type": "ping"}))
    host.stdin.flush()
    assert [recorder.received.get(timeout=WAIT_S) for _ in range(2)] == [window, {"v": 1, "type": "ping"}]
    code, rest, err = finish(host)
    assert (code, rest, err) == (0, b"", "")
    assert recorder.ended.get(timeout=WAIT_S) is channel  # EOF from the browser ends the stream


def test_a_message_of_exactly_one_mib_passes(recorder: Recorder, data_dir: Path, env: dict[str, str]) -> None:
    empty = len(frame({"v": 1, "type": "text", "pad": ""})) - 4
    big = {"v": 1, "type": "text", "pad": "x" * (MAX_MESSAGE - empty)}
    assert len(frame(big)) - 4 == MAX_MESSAGE
    host = start_host(data_dir, env)
    out, err = host.communicate(frame(big), timeout=WAIT_S)
    assert recorder.received.get(timeout=WAIT_S) == big
    assert (host.returncode, out, err) == (0, b"", b"")


def test_a_message_over_one_mib_is_dropped_and_writes_nothing(
        recorder: Recorder, data_dir: Path, env: dict[str, str], tmp_path: Path) -> None:
    before = tree(tmp_path)
    host = start_host(data_dir, env)
    assert host.stdin is not None
    oversized = b'{"pad":"' + b"x" * (MAX_MESSAGE - 9) + b'"}'
    assert len(oversized) == MAX_MESSAGE + 1
    after_it = {"v": 1, "type": "ping"}
    out, err = host.communicate(struct.pack("=I", len(oversized)) + oversized + frame(after_it), timeout=WAIT_S)
    assert recorder.received.get(timeout=WAIT_S) == after_it
    recorder.ended.get(timeout=WAIT_S)
    assert recorder.all_received() == []  # the oversized one never reached the recorder
    assert host.returncode == 0 and out == b""
    one_line(err.decode(), "messages discarded: 1 oversized")
    assert "x" * 100 not in err.decode()  # never what a message says
    assert tree(tmp_path) == before


def test_a_hostile_length_costs_nothing_and_ends_cleanly(
        recorder: Recorder, data_dir: Path, env: dict[str, str]) -> None:
    host = start_host(data_dir, env)
    _, err = host.communicate(struct.pack("=I", 0xFFFFFFFF) + b"short", timeout=WAIT_S)
    assert host.returncode == 0 and "Traceback" not in err.decode()
    recorder.ended.get(timeout=WAIT_S)
    assert recorder.all_received() == []


def test_malformed_messages_are_dropped_and_counted(recorder: Recorder, data_dir: Path, env: dict[str, str]) -> None:
    bad = [b"{not json", b"[1,2]", b"\xff\xfe\xfd"]
    framed = b"".join(struct.pack("=I", len(b)) + b for b in bad)
    host = start_host(data_dir, env)
    _, err = host.communicate(framed + frame(HELLO_MSG), timeout=WAIT_S)
    assert recorder.received.get(timeout=WAIT_S) == HELLO_MSG
    assert host.returncode == 0
    one_line(err.decode(), "messages discarded: 3 malformed")


def test_an_answer_over_one_mib_is_not_sent_to_the_browser(
        recorder: Recorder, data_dir: Path, env: dict[str, str]) -> None:
    host = start_host(data_dir, env)
    assert host.stdin is not None and host.stdout is not None
    channel = recorder.channel()
    assert channel.send({"v": 1, "type": "config", "pad": "y" * (MAX_MESSAGE + 10)})
    assert channel.send({"v": 1, "type": "ping"})
    assert read_frame(host.stdout) == {"v": 1, "type": "ping"}
    code, rest, err = finish(host)
    assert code == 0 and rest == b""
    one_line(err, "1 over the size limit from the recorder")


def test_no_recorder_ends_the_host_with_one_line_and_nothing_written(data_dir: Path, env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    data_dir.mkdir(mode=0o700)
    before = tree(tmp_path)
    host = start_host(data_dir, env)
    out, err = host.communicate(frame(HELLO_MSG), timeout=WAIT_S)
    assert host.returncode == 1
    assert out == b""  # the port simply disconnects; the extension tries again later
    one_line(err.decode(), f"no recorder is running for {data_dir}")
    assert tree(tmp_path) == before


def test_no_data_directory_is_not_created_by_the_host(data_dir: Path, env: dict[str, str], tmp_path: Path) -> None:
    before = tree(tmp_path)
    host = start_host(data_dir, env)
    _, err = host.communicate(b"", timeout=WAIT_S)
    assert host.returncode == 1
    one_line(err.decode(), "no recorder is running")
    assert tree(tmp_path) == before and not data_dir.exists()


def test_the_recorder_closing_the_stream_ends_the_host(data_dir: Path, env: dict[str, str]) -> None:
    rec = Recorder(data_dir, close_after=1)
    rec.server.start()
    try:
        host = start_host(data_dir, env)
        assert host.stdin is not None
        host.stdin.write(frame(HELLO_MSG))
        host.stdin.flush()
        assert rec.received.get(timeout=WAIT_S) == HELLO_MSG
        assert host.wait(timeout=WAIT_S) == 0  # stdin is still open: the recorder's end ended it
        rec.ended.get(timeout=WAIT_S)
        assert host.stdout is not None and host.stdout.read() == b""
        host.stdin.close()
    finally:
        rec.server.stop()


def test_eof_on_stdin_ends_the_host_with_exit_0(recorder: Recorder, data_dir: Path, env: dict[str, str]) -> None:
    host = start_host(data_dir, env)
    channel = recorder.channel()
    code, out, err = finish(host)
    assert (code, out, err) == (0, b"", "")
    assert recorder.ended.get(timeout=WAIT_S) is channel


def test_a_frame_cut_short_ends_the_host_without_relaying_it(
        recorder: Recorder, data_dir: Path, env: dict[str, str]) -> None:
    body = json.dumps(HELLO_MSG).encode()
    host = start_host(data_dir, env)
    _, err = host.communicate(struct.pack("=I", len(body)) + body[:10], timeout=WAIT_S)
    assert host.returncode == 0 and err == b""
    recorder.ended.get(timeout=WAIT_S)
    assert recorder.all_received() == []
