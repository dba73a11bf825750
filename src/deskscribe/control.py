"""The running recorder's local control socket: one JSON request and reply per connection,
or a stream of JSON lines both ways for a request that names a stream.

A Unix socket inside the contributor's 0700 data directory, itself 0600, so only that user
can reach the recorder. It also keeps a second recorder from writing into the same directory.
One-shot requests are answered one at a time, so their handler needs no locking of its own;
each stream runs in its own thread, so an open stream never holds up a one-shot request.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

from deskscribe.errors import ControlError, RecorderNotRunning

SOCKET_NAME = "recorder.sock"
REQUEST_LINE = 65536  # a one-shot request, or the hello that opens a stream
MAX_LINE = 2 * 1024 * 1024  # one line of a stream; longer ones are dropped unread
SEND_TIMEOUT_S = 2.0  # a peer that stops reading is dropped rather than stalling its sender
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


class _JsonLines:
    """One end of a stream: JSON objects, one per line, read by one thread and sent by any."""

    def __init__(self, *, sock: socket.socket, rfile: BinaryIO) -> None:
        self._sock = sock
        self._rfile = rfile
        self._send_lock = threading.Lock()
        self._closed = threading.Event()
        self.dropped = 0  # lines that were too long, not JSON, or not an object
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(SEND_TIMEOUT_S))

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def receive(self) -> Iterator[dict[str, Any]]:
        """Each object the peer sends, until it closes or this end is closed; never raises."""
        while not self.closed:
            try:
                line = self._rfile.readline(MAX_LINE + 1)
            except (OSError, ValueError):  # closed under the reading thread
                return
            if not line.endswith(b"\n"):
                if len(line) <= MAX_LINE:  # the stream ended, mid-line or between lines
                    if line:
                        self.dropped += 1
                    return
                self.dropped += 1
                if not self._skip_rest_of_line():
                    return
                continue
            message = _decode(line)
            if message is None:
                self.dropped += 1
            else:
                yield message

    def _skip_rest_of_line(self) -> bool:
        """Discard what is left of an overlong line a bounded chunk at a time; False at the end."""
        while True:
            try:
                chunk = self._rfile.readline(REQUEST_LINE)
            except (OSError, ValueError):
                return False
            if not chunk:
                return False
            if chunk.endswith(b"\n"):
                return True

    def send(self, message: dict[str, Any]) -> bool:
        """False when the message was not sent: this end is closed, or the line would be too long."""
        line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        if len(line) > MAX_LINE + 1:
            return False
        with self._send_lock:
            if self.closed:
                return False
            try:
                self._sock.sendall(line)
            except OSError:  # the peer went away, or stopped reading for SEND_TIMEOUT_S
                self.close()
                return False
        return True

    def close(self) -> None:
        """Ends both directions; a thread blocked in ``receive`` sees the end of the stream."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


class Channel(_JsonLines):
    """The recorder's end of a stream, handed to the stream's handler."""

    def __init__(self, *, sock: socket.socket, rfile: BinaryIO, hello: dict[str, Any]) -> None:
        super().__init__(sock=sock, rfile=rfile)
        self.hello = hello


class StreamClient(_JsonLines):
    """A client's end of a stream; it owns its socket, so closing it releases the socket."""

    def close(self) -> None:
        super().close()
        self._rfile.close()
        self._sock.close()


StreamHandler = Callable[[Channel], None]


class ControlServer:
    def __init__(self, *, path: Path, handle: Handler,
                 streams: Mapping[str, StreamHandler] | None = None) -> None:
        self.path = path
        if path.exists():
            try:
                request(path, {"cmd": "ping"}, timeout=1.0)
            except ControlError:
                path.unlink()  # left behind by a recorder that crashed
            else:
                raise ControlError(f"a recorder is already running for {path.parent}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        self._streams = dict(streams or {})
        self._one_at_a_time = threading.Lock()
        self._open: set[Channel] = set()
        self._open_lock = threading.Lock()
        self._stopping = False
        server = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    req = json.loads(self.rfile.readline(REQUEST_LINE) or b"{}")
                    cmd = req.get("cmd") if isinstance(req, dict) else None
                    stream = server._streams.get(cmd) if isinstance(cmd, str) else None
                    if stream is not None:
                        server._serve_stream(stream, self.request, cast(BinaryIO, self.rfile), req)
                        return
                    with server._one_at_a_time:
                        reply = {"ok": True} if req.get("cmd") == "ping" else handle(req)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    reply = {"ok": False, "error": f"bad request: {exc}"}
                self.wfile.write(json.dumps(reply).encode() + b"\n")

        old = os.umask(0o177)
        try:
            self._server = socketserver.ThreadingUnixStreamServer(str(path), _Handler)
        finally:
            os.umask(old)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="deskscribe-control", daemon=True)

    def _serve_stream(self, stream: StreamHandler, sock: socket.socket, rfile: BinaryIO,
                      hello: dict[str, Any]) -> None:
        channel = Channel(sock=sock, rfile=rfile, hello=hello)
        with self._open_lock:
            if self._stopping:
                return
            self._open.add(channel)
        try:
            if channel.send({"ok": True}):
                stream(channel)
        finally:
            channel.close()
            with self._open_lock:
                self._open.discard(channel)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops accepting, closes every open stream and waits for their handlers to return."""
        self._server.shutdown()
        with self._open_lock:
            self._stopping = True
            channels = list(self._open)
        for channel in channels:
            channel.close()
        self._server.server_close()
        self.path.unlink(missing_ok=True)


def _decode(line: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except ValueError:  # also invalid UTF-8
        return None
    return message if isinstance(message, dict) else None


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))


def _connect(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        raise RecorderNotRunning(f"no recorder is running for {path.parent}") from None
    except OSError as exc:
        sock.close()
        raise ControlError(f"cannot reach the recorder at {path}: {exc}") from None
    return sock


def _reply(data: bytes) -> dict[str, Any]:
    reply = _decode(data)
    if reply is None:
        raise ControlError("the recorder sent no usable reply")
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error", "the recorder refused the request")))
    return reply


def request(path: Path, req: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to the recorder; ControlError says why it could not be done."""
    with _connect(path, timeout) as sock:
        try:
            sock.sendall(json.dumps(req).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise ControlError(f"cannot reach the recorder at {path}: {exc}") from None
    return _reply(data)


def open_stream(path: Path, hello: dict[str, Any], *, timeout: float = 5.0) -> StreamClient:
    """Open the stream ``hello["cmd"]`` names; ``timeout`` bounds connecting and the first reply."""
    sock = _connect(path, timeout)
    rfile = sock.makefile("rb")
    try:
        sock.sendall(json.dumps(hello).encode() + b"\n")
        first = rfile.readline(REQUEST_LINE)
    except OSError as exc:
        rfile.close()
        sock.close()
        raise ControlError(f"cannot reach the recorder at {path}: {exc}") from None
    try:
        _reply(first)
    except ControlError:
        rfile.close()
        sock.close()
        raise
    sock.settimeout(None)  # a stream waits for the peer as long as both ends are open
    return StreamClient(sock=sock, rfile=rfile)
