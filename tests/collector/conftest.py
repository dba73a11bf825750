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
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key
from tests.support import Served, free_port


class Postgres:
    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        assert bins, "PostgreSQL is not installed: apt-get install postgresql (./dev setup does)"
        self.bin = Path(bins[-1])
        self.dir = Path(tempfile.mkdtemp(prefix="deskscribe-pg-"))
        self.port = free_port()
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


