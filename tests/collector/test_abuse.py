"""The collector under abuse, as its own `deskscribe serve` process on loopback (SQLite and
PostgreSQL): oversized bodies are refused while they arrive and leave nothing behind, slow
clients are cut off while others are served, enrolment codes cannot be guessed at speed, and
honest uploads still land exactly once."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from deskscribe.client import CollectorClient
from deskscribe.collector.store import connect
from deskscribe.collector.throttle import Allowance, EnrolThrottle, address_key
from deskscribe.upload import Uploader
from tests.support import Served, cli, free_port, sealed_session

MIB = 1024 * 1024
SHA_OF_NOTHING = "0" * 64


class CollectorProcess:
    """`deskscribe serve` as a process of its own on 127.0.0.1, stopped by PID."""

    def __init__(self, tmp: Path, env: dict[str, str], db: str, *extra: str, ca: ssl.SSLContext | None = None
                 ) -> None:
        self.tmp, self.env, self.db, self.extra, self.ca = tmp, env, db, extra, ca
        self.port = free_port()
        self.blobs = tmp / "blobs"
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ca else 'http'}://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> CollectorProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deskscribe", "serve", "--db", self.db, "--blobs", str(self.blobs),
             "--port", str(self.port), "--data-dir", str(self.tmp / "srv"), *self.extra],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1, verify=self.ca or True).status_code == 200:
                    return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the collector did not start: {self.stop()}")
            time.sleep(0.1)

    def stop(self) -> str:
        """Stops the process; what it wrote to stderr."""
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        return self.proc.stderr.read() if self.proc.stderr else ""

    def code(self) -> str:
        return cli("admin", "enrol-code", "--db", self.db, "--data-dir", str(self.tmp / "srv"),
                   env=self.env).stdout.strip()

    def token(self) -> str:
        r = httpx.post(f"{self.url}/v1/enrol", json={"code": self.code()}, timeout=10, verify=self.ca or True)
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (resident now) and VmHWM (the most it was resident), from /proc."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines())
        return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}

    def rows(self, table: str) -> int:
        engine = connect(self.db)
        try:
            with engine.connect() as c:
                return int(c.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
        finally:
            engine.dispose()

    def blob_files(self) -> list[Path]:
        return [p for p in self.blobs.rglob("*") if p.is_file()] if self.blobs.exists() else []


def push(port: int, head: bytes, body: Iterable[bytes], *, pause_s: float = 0.0) -> tuple[int, bytes]:
    """Send a request head and body pieces until the server answers or cuts the connection:
    the body bytes it took, and what it answered."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    answer = b""
    sent = 0
    try:
        sock.sendall(head)
        sock.setblocking(False)
        for piece in body:
            while piece:
                try:
                    n = sock.send(piece)
                    sent, piece = sent + n, piece[n:]
                except BlockingIOError:
                    time.sleep(0.001)
                with contextlib.suppress(BlockingIOError):
                    got = sock.recv(65536)
                    if not got:
                        return sent, answer
                    answer += got
                if answer:
                    return sent, answer + _rest(sock)
            time.sleep(pause_s)
        return sent, answer + _rest(sock)
    except (BrokenPipeError, ConnectionResetError):
        return sent, answer
    finally:
        sock.close()


def _rest(sock: socket.socket) -> bytes:
    sock.setblocking(True)
    sock.settimeout(30)
    out = b""
    with contextlib.suppress(ConnectionResetError):
        while got := sock.recv(65536):
            out += got
    return out


def chunk_head(session: str, token: str, *, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"PUT /v1/sessions/{session}/chunks/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}"
            f"\r\nX-Content-SHA256: {SHA_OF_NOTHING}\r\n{framing}\r\n\r\n").encode()


def chunked(total: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes in HTTP/1.1 chunked framing, so no length is declared up front."""
    block = b"x" * piece
    for _ in range(total // piece):
        yield b"%x\r\n%s\r\n" % (piece, block)
    yield b"0\r\n\r\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collector.db'}"
    return str(request.getfixturevalue("postgres").new_database())


@pytest.fixture
def collector(tmp_path: Path, env: dict[str, str], db_url: str) -> Iterator[CollectorProcess]:
    server = CollectorProcess(tmp_path, env, db_url, "--read-timeout", "1", "--body-timeout", "3").start()
    yield server
    server.stop()


def test_an_oversized_body_is_refused_while_it_arrives_and_nothing_is_kept(collector: CollectorProcess) -> None:
    token = collector.token()
    before = collector.memory_kib()

    _, answer = push(collector.port, chunk_head("big1", token, length=400 * MIB), [])
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]  # refused on its head, before any body
    assert b"connection: close" in answer.lower()  # and the connection closed (the read ended)

    sent, answer = push(collector.port, chunk_head("big2", token, length=None), chunked(400 * MIB))
    assert sent < 32 * MIB  # cut off just past the 8 MiB cap (plus what the sockets buffer)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 "), answer[:200]

    consent = f"POST /v1/me/consent HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n" \
              "Content-Type: application/json\r\n"
    _, answer = push(collector.port, f"{consent}Content-Length: {4 * MIB}\r\n\r\n".encode(), [])
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]  # JSON routes have a cap of their own
    sent, answer = push(collector.port, f"{consent}Transfer-Encoding: chunked\r\n\r\n".encode(),
                        chunked(400 * MIB))
    assert sent < 32 * MIB and (answer == b"" or answer.startswith(b"HTTP/1.1 413 ")), answer[:200]

    after = collector.memory_kib()
    assert after["VmHWM"] - before["VmRSS"] < 64 * 1024, (before, after)  # never held the bodies
    assert collector.rows("chunks") == 0 and collector.rows("sessions") == 0
    assert collector.blob_files() == []
    assert httpx.get(f"{collector.url}/healthz", timeout=5).status_code == 200


def test_a_slow_client_is_cut_off_while_others_are_served(collector: CollectorProcess, tmp_path: Path) -> None:
    token = collector.token()
    trickled: dict[str, tuple[int, bytes]] = {}

    def trickle() -> None:  # 1000 bytes at 10 a second would take 100 s
        trickled["trickle"] = push(collector.port, chunk_head("slow1", token, length=1000),
                                   (b"y" * 2 for _ in range(500)), pause_s=0.2)

    def stall() -> None:  # the head, then nothing
        trickled["stall"] = push(collector.port, chunk_head("slow2", token, length=1000), [])

    slow = [threading.Thread(target=trickle), threading.Thread(target=stall)]
    for t in slow:
        t.start()
    served = 0
    while any(t.is_alive() for t in slow):
        assert httpx.get(f"{collector.url}/healthz", timeout=5).status_code == 200
        served += 1
        time.sleep(0.1)
    for name in ("trickle", "stall"):
        sent, answer = trickled[name]
        assert sent < 1000, name  # cut off before its body was complete
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), (name, answer[:200])
    assert served > 5  # others were answered all along

    data = tmp_path / "device"
    sid = sealed_session(data, events=3000)  # several 1 MiB chunks
    with CollectorClient(base_url=collector.url, token=token) as client:
        assert Uploader(client=client).upload(sid, data / "sessions" / f"{sid}.db") >= 2
    assert collector.rows("sessions") == 1  # the slow clients left nothing


def test_enrolment_codes_cannot_be_guessed_at_speed(collector: CollectorProcess) -> None:
    def attempt(code: str, source: str = "127.0.0.1", forwarded_for: str | None = None) -> httpx.Response:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10) as http:
            return http.post(f"{collector.url}/v1/enrol", json={"code": code}, headers=headers)

    guesses = [f"GUESS-{i:04d}" for i in range(30)]
    with ThreadPoolExecutor(max_workers=10) as pool:  # at once: every attempt counts on arrival
        statuses = [r.status_code for r in pool.map(attempt, guesses)]
    assert statuses.count(403) == 10 and statuses.count(429) == 20, statuses
    good = collector.code()
    refused = attempt(good)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0  # even a good code
    assert "too many enrolment attempts" in refused.json()["detail"]
    assert attempt(good, forwarded_for="198.51.100.77").status_code == 429  # no proxy: not believed
    assert attempt(good, "127.0.0.2").status_code == 201  # another address is not held up

    used = [attempt(good, f"127.0.0.{n}").status_code for n in range(3, 10)]  # one code, many addresses
    assert used == [403] * 5 + [429] * 2, used
    assert collector.rows("devices") == 1


def test_honest_uploads_land_exactly_once_beside_abuse(collector: CollectorProcess, tmp_path: Path) -> None:
    tokens = [collector.token() for _ in range(3)]
    data = tmp_path / "device"
    sid = sealed_session(data, events=3000)
    path = data / "sessions" / f"{sid}.db"
    done = threading.Event()

    def abuse() -> None:
        while not done.is_set():
            push(collector.port, chunk_head("abuse", tokens[0], length=None), chunked(64 * MIB))

    def honest(i: int) -> int:
        with CollectorClient(base_url=collector.url, token=tokens[i]) as client:
            uploader = Uploader(client=client)
            return uploader.upload(f"s{i}", path) + uploader.upload(f"s{i}", path)  # the repeat sends nothing

    spoiler = threading.Thread(target=abuse)
    spoiler.start()
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            sent = list(pool.map(honest, range(3)))
    finally:
        done.set()
        spoiler.join()
    parts = -(-path.stat().st_size // MIB)
    assert sent == [parts] * 3
    assert collector.rows("chunks") == 3 * parts and collector.rows("sessions") == 3
    original = path.read_bytes()
    for i, token in enumerate(tokens):
        contributor = httpx.get(f"{collector.url}/v1/me/sessions", headers={"Authorization": f"Bearer {token}"},
                                timeout=10).json()["contributor_id"]
        stored = b"".join(p.read_bytes() for p in sorted((collector.blobs / contributor / f"s{i}").iterdir()))
        assert hashlib.sha256(stored).digest() == hashlib.sha256(original).digest()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_enrolment_throttle_counts_failures_per_address_and_code_and_forgets_them() -> None:
    clock = FakeClock()
    throttle = EnrolThrottle(per_address=3, per_code=2, window_s=60, clock=clock)
    for i in range(3):  # failures at 1000, 1010 and 1020
        assert throttle.admit("198.51.100.1", f"C{i}") == 0
        clock.now += 10
    assert throttle.admit("198.51.100.1", "C9") == 30  # the one at 1000 expires at 1060
    clock.now = 1060
    assert throttle.admit("198.51.100.1", "C9") == 0  # it expired: one more attempt
    assert throttle.admit("198.51.100.1", "C8") == 10  # the next expires at 1070

    for _ in range(5):  # successes are given back: an office behind one address enrols freely
        assert throttle.admit("198.51.100.2", "GOOD") == 0
        throttle.succeeded("198.51.100.2", "GOOD")

    assert throttle.admit("198.51.100.3", "ABCD-EFGH-JKMN-PQRS-TUVW") == 0
    assert throttle.admit("198.51.100.4", "abcd efgh jkmn pqrs tuvw") == 0  # the same code, typed so
    assert throttle.admit("198.51.100.5", "ABCDEFGHJKMNPQRSTUVW") == 60  # per code, whatever the address

    for host in range(3):  # one IPv6 /64 is one client
        assert throttle.admit(f"2001:db8:1:2::{host + 1}", f"V6-{host}") == 0
    assert throttle.admit("2001:db8:1:2:ffff::9", "V6-9") > 0
    assert throttle.admit("2001:db8:1:3::1", "V6-10") == 0
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"


def test_the_throttle_forgets_the_oldest_keys_beyond_its_bound() -> None:
    clock = FakeClock()
    allowance = Allowance(limit=1, window_s=60, clock=clock, max_keys=100)
    for i in range(1000):
        allowance.take(f"k{i}")
    assert allowance.wait_s("k999") == 60 and allowance.wait_s("k0") == 0  # k0 was forgotten


def test_a_body_over_the_cap_is_refused_with_a_reason_in_json(served: Served) -> None:
    """The library's plain-text 413 is answered as every other refusal: JSON with a detail."""
    import httpx

    with httpx.Client(base_url=served.url, timeout=10) as c:
        r = c.post("/v1/admin/policies", content=b"{" + b" " * (3 * MIB) + b"}",
                   headers={"content-type": "application/json", "authorization": "Bearer x"})
    assert r.status_code == 413 and "larger than this route takes" in r.json()["detail"]
