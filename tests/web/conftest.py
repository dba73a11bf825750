"""Shared by the web tests: Debian's Chromium under Playwright, axe-core on every page, and a
small sealed session written through the real store (screenshots as keyframe + crops)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.frame_codec import FrameEncoder
from deskscribe.keystore import FileKeyBackend
from tests.collector.conftest import postgres, store  # noqa: F401  (the console tests' databases)

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[2] / "extension-tests" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path("/tmp/review-web-shots")
MS = 1_000_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core findings on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):  # evaluated past the page's CSP
        page.evaluate("(src) => { (0, eval)(src); }", AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate("async () => (await axe.run(document)).violations")
    return [v for v in found if v.get("impact") in ("serious", "critical")]


def assert_accessible(page: Page) -> None:
    bad = axe_violations(page)
    assert not bad, [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]


def screenshot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    for _ in range(100):  # polled from here: the pages' CSP forbids the eval wait_for_function needs
        if page.evaluate("[...document.images].every(i => i.complete || i.loading === 'lazy')"):
            break
        page.wait_for_timeout(100)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture
def web_env(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment with the data key in a file (no OS keyring in tests)."""
    config = tmp_path / "config.toml"
    config.write_text('[recorder]\nkey_store = "file"\n')
    return {**os.environ, "DESKSCRIBE_CONFIG": str(config)}


def synthetic_session(root: Path, *, steps: int = 6, width: int = 640, height: int = 400) -> str:
    """A sealed session of clicks and typing, one pre-action frame per step; the first burst
    typed an e-mail address the recorder replaced."""
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    sid = dd.new_session_id()
    meta = SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=0, os="Linux",
                       monitors=(Monitor(0, 0, width, height),), double_click_ms=400, double_click_px=5,
                       policy_version="p", recorder_version="r", extra={"timing_precision_ms": 100})
    screen = np.zeros((height, width, 4), np.uint8)
    screen[20:height - 20, 20:width - 20, :3] = 240
    encoder = FrameEncoder()
    with dd.create(meta) as w:
        t = 0

        def emit(kind: str, **data: object) -> None:
            w.add_event(Event(t_ns=t, kind=kind, data=data))

        emit("marker", marker="start")
        emit("focus", app="XTerm", title="notes", pid=1, geometry=[0, 0, width, height], url=None)
        for i in range(steps):
            t += 500 * MS
            screen[40 + 20 * i:52 + 20 * i, 40:200, :3] = 30 + 10 * i  # a line of text appears
            fid = w.reserve_frame_id()
            w.add_frame(encoder.encode(fid, t, screen.copy()))
            emit("frame", frame_id=fid, region=[0, 0, width, height], reason="pre_action")
            t += 50 * MS
            if i % 2 == 0:
                x, y = 100 + 30 * i, 60 + 20 * i
                emit("mouse_down", x=x, y=y, button="left", mods=[])
                t += 60 * MS
                emit("mouse_up", x=x, y=y, button="left")
            elif i == 1:
                emit("text", text="mail <EMAIL_ADDRESS>", kinds=["EMAIL_ADDRESS"], secure=False, erase=0,
                     t_end_ns=t + 300 * MS)
                t += 300 * MS
            else:
                for ch in "ok":
                    emit("key_down", key=ch, char=ch, vk=30, mods=[])
                    t += 40 * MS
                    emit("key_up", key=ch, char=ch, vk=30, mods=[])
        t += 500 * MS
        emit("marker", marker="stop")
    return sid


class ReviewServer:
    """`deskscribe review --web --no-open` as its own process; its first stdout line is the link."""

    def __init__(self, data_dir: Path, env: dict[str, str], *extra: str) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deskscribe", "review", "--web", "--no-open", "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        self.login_url = self.proc.stdout.readline().strip()
        assert self.login_url.startswith("http://127.0.0.1:"), self.login_url + self.proc.stderr.read()  # type: ignore[union-attr]
        self.base = self.login_url.split("/login")[0]
        self.port = int(self.base.rsplit(":", 1)[1])

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except Exception:
                self.proc.kill()
                self.proc.wait()
