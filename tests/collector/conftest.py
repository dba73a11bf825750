"""A real PostgreSQL and a real HTTP collector for the collector tests.

The PostgreSQL server is started here (initdb in a temporary directory, loopback only) and
stopped when the tests using it end; the collector runs under uvicorn on a free port.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from deskscribe.collector.app import create_app
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.keys import new_collector_key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        assert bins, "PostgreSQL is not installed: apt-get install postgresql (./dev setup does)"
        self.bin = Path(bins[-1])
        self.dir = Path(tempfile.mkdtemp(prefix="deskscribe-pg-"))
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> Postgres:
        data = self.dir / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}", "start")
        return self

    def new_database(self) -> str:
        name = "ds_" + secrets.token_hex(4)
        self._run(str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-c", f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    pg = Postgres().start()
    yield pg
    pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CollectorStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'collector.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    engine = connect(url)
    yield CollectorStore.open(engine=engine, blobs=tmp_path / "blobs", private_key=new_collector_key())
    engine.dispose()


class Served:
    def __init__(self, store: CollectorStore) -> None:
        self.store = store
        self.server = uvicorn.Server(uvicorn.Config(create_app(store=store), host="127.0.0.1",
                                                    port=_free_port(), log_level="warning"))
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


@pytest.fixture
def served(store: CollectorStore) -> Iterator[Served]:
    s = Served(store).start()
    yield s
    s.stop()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text('[recorder]\nkey_store = "file"\n')
    return {**os.environ, "DESKSCRIBE_CONFIG": str(config)}


def events_in(file_bytes: bytes, sid: str, device: Path) -> list[tuple[str, int, dict[str, object]]]:
    """The events a session file holds, decrypted with the key of the device that made it."""
    from deskscribe.datadir import DataDir
    from deskscribe.keys import FileKeyBackend

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
