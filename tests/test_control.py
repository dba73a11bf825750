"""The recorder's control socket over a real Unix socket: one-shot requests, JSON-line streams,
the line cap, and what a misbehaving client cannot do to the server or to other clients."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskscribe.control import (
    MAX_LINE,
    Channel,
    ControlServer,
    StreamClient,
    open_stream,
    request,
    socket_path,
)
from deskscribe.errors import ControlError, RecorderNotRunning

WAIT_S = 10.0


class Recorder:
    """A control server with an echoing handler and an "echo" stream whose channels the test sees."""

    def __init__(self, data_dir: Path) -> None:
        self.path = socket_path(data_dir)
        self.requests: list[dict[str, Any]] = []
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.channels: queue.Queue[Channel] = queue.Queue()
        self.ended: queue.Queue[Channel] = queue.Queue()
        self.server = ControlServer(path=self.path, handle=self._handle, streams={"echo": self._echo})

    def _handle(self, req: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(req)
        if req.get("cmd") == "refuse":
            return {"ok": False, "error": "not now"}
        return {"ok": True, "echo": req}

    def _echo(self, channel: Channel) -> None:
        self.channels.put(channel)
        for n, message in enumerate(channel.receive()):
            self.received.put(message)
            channel.send({"n": n, "echo": message})
        self.ended.put(channel)

    def channel(self) -> Channel:
        return self.channels.get(timeout=WAIT_S)


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    rec = Recorder(tmp_path / "data")
    rec.server.start()
    try:
        yield rec
    finally:
        rec.server.stop()


def _raw(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT_S)
    sock.connect(str(path))
    return sock


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _next(client: StreamClient) -> dict[str, Any]:
    return next(iter(client.receive()))


# -- one-shot requests ------------------------------------------------------------------------


def test_a_request_gets_the_handlers_answer(recorder: Recorder) -> None:
    assert request(recorder.path, {"cmd": "status", "x": [1, "ü"]}) == {
        "ok": True, "echo": {"cmd": "status", "x": [1, "ü"]}}
    assert request(recorder.path, {"cmd": "ping"}) == {"ok": True}
    assert recorder.requests == [{"cmd": "status", "x": [1, "ü"]}]  # ping never reaches the handler


def test_a_refusal_is_raised_with_the_handlers_reason(recorder: Recorder) -> None:
    with pytest.raises(ControlError, match="not now"):
        request(recorder.path, {"cmd": "refuse"})


@pytest.mark.parametrize("line", [b"{not json\n", b"[1, 2]\n", b"\xff\xfe\n", b"x" * 200_000 + b"\n"])
def test_a_malformed_request_gets_an_error_answer_and_the_server_goes_on(recorder: Recorder, line: bytes) -> None:
    with _raw(recorder.path) as sock:
        sock.sendall(line)
        reply = json.loads(_read_line(sock))
    assert reply["ok"] is False and reply["error"].startswith("bad request")
    assert recorder.requests == []
    assert request(recorder.path, {"cmd": "after"})["echo"] == {"cmd": "after"}


# -- the socket file --------------------------------------------------------------------------


def test_the_socket_is_0600_inside_a_0700_directory(recorder: Recorder) -> None:
    mode = os.stat(recorder.path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(recorder.path.parent).st_mode) == 0o700


def test_a_second_recorder_for_the_same_directory_is_refused(recorder: Recorder) -> None:
    with pytest.raises(ControlError, match="already running"):
        ControlServer(path=recorder.path, handle=lambda req: {"ok": True})
    assert request(recorder.path, {"cmd": "still"})["echo"] == {"cmd": "still"}


def test_another_directory_reaches_no_recorder(recorder: Recorder, tmp_path: Path) -> None:
    other = socket_path(tmp_path / "other")
    with pytest.raises(RecorderNotRunning):
        request(other, {"cmd": "status"})
    with pytest.raises(RecorderNotRunning):
        open_stream(other, {"cmd": "echo"})
    assert recorder.requests == []


def test_a_socket_left_by_a_crashed_recorder_is_replaced(tmp_path: Path) -> None:
    path = socket_path(tmp_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # the file stays behind, and nothing listens on it
    server = ControlServer(path=path, handle=lambda req: {"ok": True, "fresh": True})
    server.start()
    try:
        assert request(path, {"cmd": "status"}) == {"ok": True, "fresh": True}
    finally:
        server.stop()
    assert not path.exists()


# -- streams ----------------------------------------------------------------------------------


def test_a_stream_carries_lines_both_ways_in_order(recorder: Recorder) -> None:
    client = open_stream(recorder.path, {"cmd": "echo", "v": 1})
    try:
        channel = recorder.channel()
        assert channel.hello == {"cmd": "echo", "v": 1}
        sent = [{"i": i, "text": "ü✓" * (i % 10)} for i in range(200)]
        for message in sent:
            assert client.send(message)
        replies = client.receive()
        assert [next(replies) for _ in sent] == [{"n": i, "echo": m} for i, m in enumerate(sent)]
        assert channel.send({"unasked": True})
        assert next(replies) == {"unasked": True}
    finally:
        client.close()


def test_a_stream_does_not_hold_up_one_shot_requests(recorder: Recorder) -> None:
    client = open_stream(recorder.path, {"cmd": "echo"})
    try:
        recorder.channel()
        assert request(recorder.path, {"cmd": "meanwhile"})["echo"] == {"cmd": "meanwhile"}
    finally:
        client.close()


def test_a_line_over_the_cap_is_dropped_and_the_stream_and_other_clients_go_on(recorder: Recorder) -> None:
    other = open_stream(recorder.path, {"cmd": "echo"})
    recorder.channel()
    with _raw(recorder.path) as sock, contextlib.closing(other):
        sock.sendall(b'{"cmd":"echo"}\n')
        assert json.loads(_read_line(sock)) == {"ok": True}
        channel = recorder.channel()
        sock.sendall(b'{"pad":"' + b"x" * MAX_LINE + b'"}\n' + b'{"after":1}\n')
        assert recorder.received.get(timeout=WAIT_S) == {"after": 1}
        assert json.loads(_read_line(sock)) == {"n": 0, "echo": {"after": 1}}
        assert channel.dropped == 1
        assert other.send({"other": True}) and _next(other) == {"n": 0, "echo": {"other": True}}
        assert request(recorder.path, {"cmd": "fine"})["echo"] == {"cmd": "fine"}


def test_a_message_at_the_cap_passes_and_one_byte_more_is_not_sent(recorder: Recorder) -> None:
    client = open_stream(recorder.path, {"cmd": "echo"})
    try:
        channel = recorder.channel()
        frame = len(json.dumps({"pad": ""}, separators=(",", ":")))
        at_cap = {"pad": "x" * (MAX_LINE - frame)}
        assert not client.send({"pad": "x" * (MAX_LINE - frame + 1)})
        assert client.send(at_cap)
        assert recorder.received.get(timeout=WAIT_S) == at_cap
        assert not channel.send({"pad": "x" * MAX_LINE})  # the recorder's end keeps the cap too
        assert channel.send({"small": True})  # the echo of at_cap was over the cap, so this comes first
        assert _next(client) == {"small": True}
        assert channel.dropped == 0 and client.dropped == 0
    finally:
        client.close()


def test_malformed_lines_in_a_stream_are_counted_and_skipped(recorder: Recorder) -> None:
    with _raw(recorder.path) as sock:
        sock.sendall(b'{"cmd":"echo"}\n')
        assert json.loads(_read_line(sock)) == {"ok": True}
        channel = recorder.channel()
        sock.sendall(b'{broken\n[1,2]\n"text"\n\xff\n{"good":true}\n')
        assert recorder.received.get(timeout=WAIT_S) == {"good": True}
        assert channel.dropped == 4


def test_closing_the_client_ends_the_stream_on_the_server_side(recorder: Recorder) -> None:
    client = open_stream(recorder.path, {"cmd": "echo"})
    channel = recorder.channel()
    client.send({"last": True})
    assert recorder.received.get(timeout=WAIT_S) == {"last": True}
    client.close()
    assert recorder.ended.get(timeout=WAIT_S) is channel
    assert channel.closed
    assert not channel.send({"too": "late"})


def test_stopping_the_server_ends_every_open_stream(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    rec.server.start()
    client = open_stream(rec.path, {"cmd": "echo"})
    channel = rec.channel()
    rec.server.stop()
    assert rec.ended.get(timeout=WAIT_S) is channel
    assert list(client.receive()) == []  # the client's end sees the end of the stream
    client.close()
    assert not rec.path.exists()
