"""The running recorder's local control socket: one JSON request and reply per connection.

A Unix socket inside the contributor's 0700 data directory, itself 0600, so only that user
can reach the recorder. It also keeps a second recorder from writing into the same directory.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deskscribe.errors import ControlError

SOCKET_NAME = "recorder.sock"
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


class ControlServer:
    def __init__(self, *, path: Path, handle: Handler) -> None:
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

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    req = json.loads(self.rfile.readline(65536) or b"{}")
                    reply = {"ok": True} if req.get("cmd") == "ping" else handle(req)
                except (ValueError, TypeError, KeyError) as exc:
                    reply = {"ok": False, "error": f"bad request: {exc}"}
                self.wfile.write(json.dumps(reply).encode() + b"\n")

        old = os.umask(0o177)
        try:
            self._server = socketserver.UnixStreamServer(str(path), _Handler)
        finally:
            os.umask(old)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="deskscribe-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.path.unlink(missing_ok=True)


def request(path: Path, req: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to the recorder; ControlError says why it could not be done."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps(req).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(f"no recorder is running for {path.parent}") from None
    except OSError as exc:
        raise ControlError(f"cannot reach the recorder at {path}: {exc}") from None
    try:
        reply: dict[str, Any] = json.loads(data)
    except ValueError:
        raise ControlError("the recorder sent no usable reply") from None
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error", "the recorder refused the request")))
    return reply
