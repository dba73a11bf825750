"""Helpers more than one test module shares: running the command line, a collector in-process
or as its own process, sealed sessions to upload, and window geometry on a virtual display."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from deskscribe.collector.app import create_app
from deskscribe.collector.store import CollectorStore
from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend
from deskscribe.vdisplay import VirtualDisplay


def run(*args: str, env_extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", *drop)}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "deskscribe", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def one_line_error(out: subprocess.CompletedProcess[str], needle: str) -> None:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr


def cli(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "deskscribe", *args], capture_output=True, text=True,
                         env=env, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"deskscribe {' '.join(args)}: {out.stderr}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, store: CollectorStore) -> None:
        self.store = store
        self.server = uvicorn.Server(uvicorn.Config(create_app(store=store), host="127.0.0.1",
                                                    port=free_port(), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.config.port}"

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the collector did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def enrol(served: Served, role: str = "contributor") -> dict[str, str]:
    code = served.store.create_enrol_code(role)
    with served.client() as c:
        r = c.post("/v1/enrol", json={"code": code})
    assert r.status_code == 201, r.text
    return dict(r.json())


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """Until a collector process answers /healthz; it must not exit meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "the collector did not start"
        time.sleep(0.1)


def wait_built(client: httpx.Client, ds: str, timeout: float = 120) -> dict[str, object]:
    """A dataset's row once it is no longer building."""
    deadline = time.monotonic() + timeout
    while True:
        row: dict[str, object] = {d["id"]: d for d in client.get("/v1/datasets").json()["datasets"]}[ds]
        if row["state"] != "building":
            return row
        assert time.monotonic() < deadline, "the build did not finish"
        time.sleep(0.2)


class Collector:
    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.port, self.env, self.db = free_port(), env, f"sqlite:///{tmp / 'server.db'}"
        self.blobs = tmp / "blobs"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Collector:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deskscribe", "serve", "--db", self.db, "--blobs", str(self.blobs),
             "--port", str(self.port)], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_healthy(self.url, self.proc)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def sealed_session(root: Path, events: int) -> str:
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 800, 600),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r", extra={"timing_precision_ms": 100}))
    for i in range(events):  # incompressible payloads make a multi-chunk file quickly
        w.add_event(Event(t_ns=i * 7_000_000 + 1234, kind="marker", data={"marker": "start", "pad": os.urandom(700).hex()}))
        if i % 200 == 0:
            w.flush()
    w.close(seal=True)
    return sid


def events_in(file_bytes: bytes, sid: str, device: Path) -> list[tuple[str, int, dict[str, object]]]:
    """The events a session file holds, decrypted with the key of the device that made it."""
    with tempfile.TemporaryDirectory() as tmp:
        dd = DataDir(root=Path(tmp), key_backend=FileKeyBackend(path=device / "contributor.key"))
        dd.sessions_dir.mkdir()
        dd.path_of(sid).write_bytes(file_bytes)
        reader = dd.open(sid)
        try:
            return [(e.kind, e.t_ns, dict(e.data)) for _, e in reader.iter_events()]
        finally:
            reader.close()


def rounded(events: list[tuple[str, int, dict[str, object]]], precision_ms: int) -> list[tuple[str, int, dict[str, object]]]:
    p = precision_ms * 1_000_000
    return [(k, t - t % p, d) for k, t, d in events]


def geometry(vd: VirtualDisplay, win: str) -> tuple[int, int, int, int]:
    """Absolute client geometry per xwininfo (xdotool's getwindowgeometry adds the frame twice)."""
    out = subprocess.run(["xwininfo", "-id", win], env=vd.env, capture_output=True, text=True,
                         check=True).stdout
    field = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
    return (int(field["Absolute upper-left X"]), int(field["Absolute upper-left Y"]),
            int(field["Width"]), int(field["Height"]))
