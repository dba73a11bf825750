"""Uploads that survive faults: the uploading process killed mid-way, and the network cut
mid-upload. Afterwards every approved session is on the collector exactly once."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support import Collector, cli, events_in, free_port, rounded, sealed_session


class CuttableLink:
    """A loopback TCP relay in front of the collector whose link can be cut: open connections
    are reset and new ones refused until it is restored, as when a laptop leaves the Wi-Fi."""

    def __init__(self, target_port: int) -> None:
        self.port, self.target = free_port(), target_port
        self.up = threading.Event()
        self.up.set()
        self.bytes = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                self.bytes += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:  # shutdown also wakes the relay threads blocked reading these sockets
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self._server.close()


def on_server(server: Collector) -> list[tuple[str, int, int | None]]:
    with create_engine(server.db).connect() as c:
        return [(r.id, r.bytes, r.chunks) for r in c.execute(text("SELECT id, bytes, chunks FROM sessions"))]


def stored_bytes(server: Collector, sid: str) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(server.blobs.rglob(f"{sid}/*")) if p.is_file())


def test_an_upload_killed_mid_way_finishes_on_the_next_run(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "device"
    sid = sealed_session(data, events=4500)
    local = (data / "sessions" / f"{sid}.db").read_bytes()
    total = -(-len(local) // (1024 * 1024))
    server = Collector(tmp_path, env).start()
    try:
        code = cli("admin", "enrol-code", "--db", server.db, "--blobs", str(server.blobs), env=env).stdout.strip()
        cli("enrol", server.url, code, "--data-dir", str(data), env=env)
        cli("review", "approve", sid, "--data-dir", str(data), env=env)
        upload = subprocess.Popen([sys.executable, "-m", "deskscribe", "upload", "--data-dir", str(data),
                                   "--max-kib-s", "1024"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not list(server.blobs.rglob(f"{sid}/000001")):  # two chunks are there: kill it
            assert time.monotonic() < deadline and upload.poll() is None, "the upload never got going"
            time.sleep(0.05)
        upload.send_signal(signal.SIGKILL)
        upload.wait()
        held = len(list(server.blobs.rglob(f"{sid}/0*")))
        assert 0 < held < total
        assert on_server(server)[0][2] is None  # not complete yet

        again = cli("upload", "--data-dir", str(data), env=env).stdout
        assert f"({total - held} new chunks)" in again
        assert "nothing to upload" in cli("upload", "--data-dir", str(data), env=env).stdout
    finally:
        server.kill()
    assert [(s, n) for s, _, n in on_server(server)] == [(sid, total)]
    assert events_in(stored_bytes(server, sid), sid, data) == rounded(events_in(local, sid, data), 100)


def test_an_upload_survives_the_network_being_cut(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "device"
    sid = sealed_session(data, events=4500)
    local = (data / "sessions" / f"{sid}.db").read_bytes()
    server = Collector(tmp_path, env).start()
    link = CuttableLink(server.port)
    try:
        code = cli("admin", "enrol-code", "--db", server.db, "--blobs", str(server.blobs), env=env).stdout.strip()
        cli("enrol", link.url, code, "--data-dir", str(data), env=env)
        cli("review", "approve", sid, "--data-dir", str(data), env=env)
        upload = subprocess.Popen([sys.executable, "-m", "deskscribe", "upload", "--data-dir", str(data),
                                   "--max-kib-s", "1024"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        deadline = time.monotonic() + 60
        while link.bytes < 1_500_000:  # mid-way through the second chunk
            assert time.monotonic() < deadline and upload.poll() is None, "the upload never got going"
            time.sleep(0.02)
        link.cut()
        time.sleep(2.0)  # the uploader's requests fail meanwhile and are retried with backoff
        link.restore()
        out, err = upload.communicate(timeout=120)
        assert upload.returncode == 0, err
        assert f"uploaded session {sid}" in out
    finally:
        link.close()
        server.kill()
    assert [(s, n) for s, _, n in on_server(server)] == [(sid, -(-len(local) // (1024 * 1024)))]
    assert events_in(stored_bytes(server, sid), sid, data) == rounded(events_in(local, sid, data), 100)
