"""Designated websites end to end: Debian's Chromium with the unpacked extension on the
virtual display, the native host installed into its profile, the recorder as its own process,
and datasette (a real web app) served on loopback under a designated and a personal host name.
Input is real X input from xdotool; Playwright only navigates and reads element boxes."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, sync_playwright

from deskscribe.control import request, socket_path
from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import RecorderProcess, deskscribe

pytestmark = pytest.mark.slow

NOTE = "write to jane.doe@example.com about the invoice"


EMAIL_RECT = """() => {
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) {
    const i = n.data.indexOf("jane.doe@example.com");
    if (i < 0) continue;
    const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 20);
    const b = r.getBoundingClientRect(); return [b.x, b.y, b.width, b.height];
  }
  return null; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """datasette on loopback; the port is the site, the host name decides designation."""
    db = tmp_path_factory.mktemp("site") / "work.db"
    with sqlite3.connect(db) as c:
        c.execute("create table notes (id integer primary key, note text)")
        c.executemany("insert into notes (note) values (?)", [(NOTE,), ("plain note",), ("call the supplier",)])
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "datasette", "serve", str(db), "-h", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline and proc.poll() is None, "datasette did not start"
        time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def sites_policy(tmp_path: Path, site: int) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(f'version = "sites-1"\ndesignated_apps = []\n'
                    f'designated_sites = ["http://*.example.test:{site}/*"]\nscreenshot_interval_s = 1\n')
    return path


def chromium(p: Any, vd: VirtualDisplay, profile: Path, *extra: str) -> BrowserContext:
    ext = deskscribe("browser", "extension-path").stdout.strip()
    return p.chromium.launch_persistent_context(
        str(profile), executable_path="/usr/bin/chromium", headless=False, env=vd.app_env, no_viewport=True,
        ignore_default_args=["--disable-extensions", "--enable-automation"],
        args=[f"--load-extension={ext}", f"--disable-extensions-except={ext}", "--no-sandbox", "--disable-gpu",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-quic", "--window-position=0,0", "--window-size=1200,760",
              "--host-resolver-rules=MAP *.example.test 127.0.0.1, MAP *.personal.test 127.0.0.1", *extra])


def viewport_top(ctx: BrowserContext, timeout: float = 20.0) -> int:
    """Where the page starts on screen, once the extension has told the recorder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in ctx.service_workers:
            vps = worker.evaluate("() => globalThis.deskscribeBackground?.port"
                                  " ? [...deskscribeBackground.viewports.values()] : []")
            if vps:
                return round(vps[-1]["y"])
        time.sleep(0.2)
    raise AssertionError("the extension never reported a viewport")


def recording(data: Path, app: str | None, timeout: float = 20.0) -> None:
    """Wait until the recorder's gate says ``app`` is being recorded with some of its pixels laid
    out as kept (None: nothing is recorded)."""
    deadline = time.monotonic() + timeout
    while True:
        status = request(socket_path(data), {"cmd": "status"}, timeout=2.0)
        if status.get("app") == app and (app is None or status.get("kept")):
            return
        assert time.monotonic() < deadline, f"the recorder says {status}, not recording {app!r}"
        time.sleep(0.1)


def click_element(vd: VirtualDisplay, page: Page, selector: str, top: int, dx: int = 0) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None
    x, y = round(box["x"] + 10) + dx, round(box["y"] + box["height"] / 2) + top
    vd.xdotool("mousemove", str(x), str(y))
    vd.xdotool("click", "1")
    return {"x": box["x"], "y": box["y"] + top, "w": box["width"], "h": box["height"]}


@pytest.fixture(scope="module")
def vd() -> Iterator[VirtualDisplay]:
    display = VirtualDisplay(width=1280, height=800).start()
    yield display
    display.stop()


def recorder_for(vd: VirtualDisplay, tmp_path: Path, policy: Path) -> tuple[RecorderProcess, Path]:
    data, profile = tmp_path / "data", tmp_path / "profile"
    deskscribe("browser", "install", "--browser", "chromium", "--user-data-dir", str(profile),
               "--data-dir", str(data))
    return RecorderProcess(vd=vd, data_dir=data, policy=policy).start(), profile


def test_only_the_designated_site_is_recorded_with_its_url_targets_and_page_pixels(
        vd: VirtualDisplay, tmp_path: Path, sites_policy: Path, site: int) -> None:
    rec, profile = recorder_for(vd, tmp_path, sites_policy)
    try:
        with sync_playwright() as p:
            ctx = chromium(p, vd, profile)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.goto(f"http://work.example.test:{site}/work/notes?_sort=note#private-row")
            top = viewport_top(ctx)
            recording(rec.data_dir, "Chromium")
            email = page.evaluate(EMAIL_RECT)
            for _ in range(3):
                box = click_element(vd, page, 'input[name="_filter_value"]', top)
                time.sleep(0.7)
            vd.xdotool("type", "--delay", "60", "abc")
            time.sleep(1.5)
            page.goto(f"http://home.personal.test:{site}/work/notes?_sort=id#holiday")
            page.wait_for_load_state()
            recording(rec.data_dir, None)  # the extension reported the page as not designated
            click_element(vd, page, 'input[name="_filter_value"]', top, dx=25)
            vd.xdotool("type", "--delay", "60", "zzz")
            time.sleep(1.0)
            ctx.close()
        rec.stop()
        events = rec.dump()
    finally:
        rec.kill()
    store = json.dumps(events)
    focus = [e for e in events if e["kind"] == "focus"]
    assert focus and {e["url"] for e in focus} == {f"http://work.example.test:{site}/work/notes"}
    assert "personal.test" not in store and "holiday" not in store and "private" not in store and "_sort" not in store
    typed = "".join(str(e["char"]) for e in events if e["kind"] == "key_down")
    assert "abc" in typed and "z" not in typed
    downs = [e for e in events if e["kind"] == "mouse_down"]
    here = round(box["x"] + 10)
    assert len(downs) == 3 and all(e["x"] == here for e in downs), downs  # not the other site's (x + 25)
    targets = [e for e in events if e["kind"] == "target" and e["event"] in ("pointerdown", "focus")]
    assert targets, "no target was recorded for the click"
    bbox = targets[0]["bbox"]
    assert targets[0]["tag"] == "input" and targets[0]["selector"] == 'input[name="_filter_value"]'
    assert all(abs(a - b) <= 2 for a, b in zip(bbox, (box["x"], box["y"], box["w"], box["h"]), strict=True))
    assert any(e["kind"] == "marker" and e["marker"] == "excluded" for e in events)
    out = tmp_path / "frames"
    deskscribe("sessions", "frames", rec.session_id, "--data-dir", str(rec.data_dir), "--out", str(out))
    pngs = sorted(out.glob("*.png"))
    assert pngs, "no frame of the designated page was kept"
    assert email is not None
    ex, ey, ew, eh = round(email[0]) + 2, round(email[1]) + top + 2, round(email[2]) - 4, round(email[3]) - 4
    for png in pngs:
        pixels = np.asarray(Image.open(png).convert("RGB"))
        assert not pixels[: top - 2].any(), f"{png.name} keeps the browser's tab strip or address bar"
        assert pixels[top + 5:].any(), f"{png.name} has no page pixels"
        shown = pixels[ey:ey + eh, ex:ex + ew]
        assert (shown == 128).all(), f"{png.name} shows the e-mail address the page reported"


def test_a_private_window_on_a_designated_site_is_not_recorded(
        vd: VirtualDisplay, tmp_path: Path, sites_policy: Path, site: int) -> None:
    rec, profile = recorder_for(vd, tmp_path, sites_policy)
    try:
        with sync_playwright() as p:
            ctx = chromium(p, vd, profile, "--incognito")
            vd.activate(vd.wait_window(cls="chromium"))
            vd.xdotool("key", "ctrl+l")  # typed into the private window's address bar, as a person would
            vd.xdotool("type", "--delay", "20", f"http://work.example.test:{site}/work/notes\n")
            window = vd.wait_window(name="work: notes")
            vd.activate(window)
            time.sleep(3)  # reports every 2 s: a vouching report would have come by now
            titles = vd.xdotool("getwindowname", vd.xdotool("getactivewindow"))
            regular = [pg.url for pg in ctx.pages]  # the profile's own pages; a private one is not among them
            vd.xdotool("mousemove", "300", "400")
            vd.xdotool("click", "1")
            vd.xdotool("type", "--delay", "60", "secret")
            time.sleep(1)
            ctx.close()
        rec.stop()
        events = rec.dump()
    finally:
        rec.kill()
    assert not [e for e in events if e["kind"] in ("focus", "mouse_down", "key_down", "frame", "target")]
    assert "example.test" not in json.dumps(events)
    assert "work: notes" in titles  # the designated page was in front and loaded
    assert not any("example.test" in url for url in regular), regular  # in the private window
