"""Designated websites end to end: Debian's Chromium with the shipped extension on the virtual
display, its native host installed into a throwaway profile, the recorder as its own process,
and real web apps (datasette, a Django admin site) on loopback under a designated and a
personal host name. Every click and key is real X input from xdotool; Playwright only
navigates and reads where elements are."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mss
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

from deskscribe.control import request, socket_path
from deskscribe.geometry import Rect
from deskscribe.redact.ocr import TesseractOcr
from deskscribe.vdisplay import VirtualDisplay
from tests.e2e import web
from tests.e2e.conftest import RecorderProcess, deskscribe
from tests.support import geometry

pytestmark = pytest.mark.slow

WORK, HOME = "work.example.test", "home.personal.test"
TICKETS, HOLIDAYS = "/crm/tickets", "/crm/holidays"
FILTER = 'input[name="_filter_value"]'
ADMIN_USER, PASSWORD = "steward", "Quartz-Canary-5521"
EMAIL = "rowan.canary@example.com"
# What a personal page would leave behind: its host, its table (in URL and title), what was typed.
PERSONAL = ("personal.test", "holidays", "bravo")


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[web.WebApp]:
    app = web.datasette(tmp_path_factory.mktemp("crm"), "crm", {
        "tickets": ["call the supplier", "renew the lease", "order paper"],
        "holidays": ["beach week", "ski trip"]})
    yield app
    app.stop()


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[web.WebApp]:
    app = web.django_admin(tmp_path_factory.mktemp("admin"), user=ADMIN_USER, password=PASSWORD)
    yield app
    app.stop()


@dataclass
class Rig:
    """One recorder session and the browser profile whose native host reaches it."""

    vd: VirtualDisplay
    rec: RecorderProcess
    profile: Path
    tmp: Path

    def status(self) -> dict[str, object]:
        return request(socket_path(self.rec.data_dir), {"cmd": "status"}, timeout=2.0)

    def stop(self) -> list[dict[str, object]]:
        self.rec.stop()
        return self.rec.dump()

    def frames(self) -> dict[int, np.ndarray]:
        """Every stored frame, decrypted, by frame id."""
        out = self.tmp / "frames"
        deskscribe("sessions", "frames", self.rec.session_id, "--data-dir", str(self.rec.data_dir),
                   "--out", str(out))
        return {int(p.stem.split("-")[1]): np.asarray(Image.open(p).convert("RGB")) for p in out.glob("*.png")}

    def stored_text(self) -> str:
        """Every file in the data directory, as text (sealed content stays unreadable)."""
        files = [p for p in self.rec.data_dir.rglob("*") if p.is_file() and not p.is_socket()]
        return "\n".join(p.read_bytes().decode("latin-1") for p in files).casefold()


@pytest.fixture
def rig(vd: VirtualDisplay, tmp_path: Path, crm: web.WebApp, admin: web.WebApp) -> Iterator[Rig]:
    policy = tmp_path / "policy.toml"
    policy.write_text(f"""
version = "sites-e2e"
designated_apps = []
designated_sites = ["http://*.example.test:{crm.port}/*", "http://*.example.test:{admin.port}/*"]
excluded_urls = ["http://*.example.test:{admin.port}/admin/password_change/*"]
screenshot_interval_s = 1
""")
    data, profile = tmp_path / "data", tmp_path / "profile"
    web.install_host(profile, data)
    rec = RecorderProcess(vd=vd, data_dir=data, policy=policy)
    yield Rig(vd=vd, rec=rec.start(), profile=profile, tmp=tmp_path)
    rec.kill()


def kinds(events: list[dict[str, object]], *wanted: str) -> list[dict[str, object]]:
    return [e for e in events if e["kind"] in wanted]


def typed(events: list[dict[str, object]]) -> str:
    return "".join(str(e["char"]) for e in kinds(events, "key_down") if e["char"])


def excluded_spans(events: list[dict[str, object]]) -> list[tuple[int, int]]:
    marks = [e for e in kinds(events, "marker") if e["marker"] == "excluded"]
    return [(int(e["t_ns"]), int(e["t_ns"]) + int(e["duration_ms"]) * 1_000_000) for e in marks]


def vouched(rig: Rig) -> None:
    web.vouched(rig.rec.data_dir)


def open_page(rig: Rig, page: Page, url: str, title: str) -> tuple[str, tuple[int, int]]:
    """Navigate, bring the window to the front, and return it with the page's screen origin."""
    page.goto(url)
    win = web.browser_window(rig.vd, title)
    return win, web.page_origin(rig.vd, page, win)


def type_into(rig: Rig, box: web.Box, text: str) -> None:
    web.click(rig.vd, box)
    rig.vd.xdotool("type", "--delay", "40", text)
    time.sleep(0.5)  # the page and the recorder see the last key before the next action


def never_personal(rig: Rig, events: list[dict[str, object]]) -> None:
    dump, files = json.dumps(events).casefold(), rig.stored_text()
    for needle in PERSONAL:
        assert needle not in dump, [e for e in events if needle in json.dumps(e).casefold()]
        assert needle not in files


def test_a_designated_site_is_recorded_with_its_url_title_and_page_pixels_only(
        rig: Rig, crm: web.WebApp) -> None:
    with web.chromium(rig.vd, rig.profile) as (_, page):
        win, origin = open_page(rig, page, crm.url(WORK, f"{TICKETS}?_sort=note#top"), "crm: tickets")
        vouched(rig)
        box = web.screen_box(page, FILTER, origin)
        type_into(rig, box, "supplier")
        rig.vd.xdotool("key", "Tab")  # the burst ends: frames may follow
        time.sleep(1.2)  # a periodic frame
        wx, wy, ww, wh = geometry(rig.vd, win)
        with mss.MSS(display=rig.vd.name) as sct:
            chrome = np.asarray(sct.grab({"left": wx, "top": wy, "width": ww, "height": origin[1] - wy}))
    events = rig.stop()

    focus = kinds(events, "focus")
    assert focus and {e["url"] for e in focus} == {crm.url(WORK, TICKETS)}  # no query, no fragment
    assert any(str(e["title"]).startswith("crm: tickets") for e in focus)
    assert {e["app"] for e in focus} == {"Chromium"}  # Debian's WM_CLASS, matched by the default browser_apps
    assert "_sort" not in json.dumps(events) and "#top" not in json.dumps(events)
    downs = kinds(events, "mouse_down")
    assert [(e["x"], e["y"]) for e in downs] == [(box[0] + box[2] // 2, box[1] + box[3] // 2)]
    assert typed(events) == "supplier"
    assert kinds(events, "key_down")[-1]["key"] == "tab"

    frames, stored = kinds(events, "frame"), rig.frames()
    assert frames and set(stored) == {int(f["frame_id"]) for f in frames}
    assert chrome[:, :, :3].max() > 100  # the tab strip and address bar really are on screen there
    for f in frames:
        rx, ry, rw, rh = (int(v) for v in f["region"])  # type: ignore[attr-defined]
        assert ry >= origin[1] and wx <= rx and rx + rw <= wx + ww and ry + rh <= wy + wh
        pixels = stored[int(f["frame_id"])]
        assert pixels[wy:origin[1], wx:wx + ww].max() == 0, "browser chrome kept in a frame"
        assert np.median(pixels[origin[1] + 10:wy + wh - 10, wx + 10:wx + ww - 10]) > 200  # the page


def test_a_personal_site_in_the_same_browser_leaves_nothing(rig: Rig, crm: web.WebApp) -> None:
    with web.chromium(rig.vd, rig.profile) as (_, page):
        _, origin = open_page(rig, page, crm.url(HOME, f"{HOLIDAYS}?_sort=note"), "crm: holidays")
        deadline = time.monotonic() + 20
        while rig.status().get("browser", {}).get("connected", 0) < 1:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the extension never connected"
            time.sleep(0.1)
        time.sleep(2.5)  # past a heartbeat: the extension has reported this page by now
        assert rig.status()["app"] is None
        type_into(rig, web.screen_box(page, FILTER, origin), "bravo")
        time.sleep(1.2)
    events = rig.stop()

    assert [e["marker"] for e in kinds(events, "marker")] == ["start", "excluded", "stop"]
    assert len(events) == 3  # no focus, input, target, text or frame event
    assert rig.frames() == {}
    never_personal(rig, events)


def test_switching_tabs_stops_capture_at_the_switch_and_resumes_on_return(
        rig: Rig, crm: web.WebApp) -> None:
    with web.chromium(rig.vd, rig.profile) as (ctx, work):
        win, origin = open_page(rig, work, crm.url(WORK, f"{TICKETS}?_sort=note"), "crm: tickets")
        home = ctx.new_page()
        home.goto(crm.url(HOME, HOLIDAYS))
        rig.vd.activate(win)
        rig.vd.xdotool("key", "ctrl+1")
        vouched(rig)
        type_into(rig, web.screen_box(work, FILTER, origin), "alpha")
        rig.vd.xdotool("key", "ctrl+2")
        web.recording(rig.rec.data_dir, None)
        type_into(rig, web.screen_box(home, FILTER, origin), "bravo")
        time.sleep(1.2)  # a periodic frame would be due here
        rig.vd.xdotool("key", "ctrl+1")
        vouched(rig)
        type_into(rig, web.screen_box(work, FILTER, origin), "charlie")
        time.sleep(1.2)
    events = rig.stop()

    chars = typed(events)
    assert "alpha" in chars and "charlie" in chars and "v" not in chars
    assert len(kinds(events, "mouse_down")) == 2
    spans = excluded_spans(events)
    switch = next(s for s in spans if s[0] > int(kinds(events, "mouse_down")[0]["t_ns"]))
    inside = [e for e in events if switch[0] < int(e["t_ns"]) < switch[1] and e["kind"] != "marker"]
    assert inside == []  # nothing at all while the personal tab was in front
    frames = [int(f["t_ns"]) for f in kinds(events, "frame")]
    assert any(t < switch[0] for t in frames) and any(t > switch[1] for t in frames)
    assert {e["url"] for e in kinds(events, "focus")} == {crm.url(WORK, TICKETS)}
    never_personal(rig, events)
    ocr = TesseractOcr()
    try:  # what a reader of the frames could see: the page, never the tab strip or address bar
        seen = [" ".join(w.text for w in ocr.words(px, Rect(0, 0, rig.vd.width, rig.vd.height))).casefold()
                for px in rig.frames().values()]
    finally:
        ocr.close()
    assert seen and any("lease" in text for text in seen)  # the OCR reads these frames
    for text in seen:
        assert "holidays" not in text and "_sort" not in text and "personal" not in text, text


def test_a_private_window_on_a_designated_site_is_not_recorded(rig: Rig, crm: web.WebApp) -> None:
    with web.chromium(rig.vd, rig.profile) as (_, page):
        open_page(rig, page, crm.url(WORK, TICKETS), "crm: tickets")
        vouched(rig)  # the extension works and vouches here
        rig.vd.xdotool("key", "ctrl+shift+n")
        private = rig.vd.wait_window(name="^New Incognito Tab")
        rig.vd.activate(private)
        rig.vd.xdotool("key", "ctrl+l")  # the private window's address bar, as a person would
        rig.vd.xdotool("type", "--delay", "20", crm.url(WORK, f"{TICKETS}?_sort=note"))
        rig.vd.xdotool("key", "Return")
        loaded = rig.vd.wait_window(name="sorted by note")
        assert loaded == private
        time.sleep(2.5)  # past a heartbeat: a vouching report would have come by now
        assert rig.status()["app"] is None
        wx, wy, ww, wh = geometry(rig.vd, private)
        web.click(rig.vd, (wx + ww // 2, wy + wh // 2, 1, 1))
        rig.vd.xdotool("type", "--delay", "40", "private")
        time.sleep(1.2)
    events = rig.stop()

    keys = {str(e["key"]) for e in kinds(events, "key_down")}
    assert keys <= {"ctrl", "shift", "n", "N"}, keys  # only the chord that opened the window
    assert kinds(events, "mouse_down") == []
    assert "_sort" not in json.dumps(events)
    spans = excluded_spans(events)
    assert spans and all(int(f["t_ns"]) < spans[-1][0] for f in kinds(events, "frame"))


def test_login_fields_are_blacked_out_and_the_password_never_stored(rig: Rig, admin: web.WebApp) -> None:
    with web.chromium(rig.vd, rig.profile) as (_, page):
        _, origin = open_page(rig, page, admin.url(WORK, "/admin/login/?next=/admin/"), "Log in")
        vouched(rig)
        user, secret = (web.screen_box(page, s, origin) for s in ("#id_username", "#id_password"))
        type_into(rig, user, EMAIL)
        type_into(rig, secret, PASSWORD)
        web.click(rig.vd, (origin[0] + 30, origin[1] + 500, 1, 1))  # a frame of both fields filled
        time.sleep(0.5)
        with mss.MSS(display=rig.vd.name) as sct:
            screen = np.asarray(sct.grab({"left": 0, "top": 0, "width": rig.vd.width, "height": rig.vd.height}))
        time.sleep(1.2)
    events = rig.stop()

    dump = json.dumps(events)
    assert PASSWORD.casefold() not in dump.casefold() and "quartz" not in dump.casefold()
    assert "rowan.canary" not in dump and EMAIL not in rig.stored_text()
    assert [e["text"] for e in kinds(events, "text")] == ["<EMAIL_ADDRESS>", "<PASSWORD>"]
    for x, y, w, h in (user, secret):  # on screen, both fields show what was typed
        assert len(np.unique(screen[y:y + h, x:x + w, :3].reshape(-1, 3), axis=0)) > 3
    filled = int(kinds(events, "text")[-1]["t_ns"])
    later = [f for f in kinds(events, "frame") if int(f["t_ns"]) > filled]
    assert later, "no frame was taken once both fields were filled"
    stored = rig.frames()
    for f in later:
        pixels = stored[int(f["frame_id"])]
        x, y, w, h = secret
        assert pixels[y:y + h, x:x + w].max() == 0, "the password field is not blacked out"
        x, y, w, h = user
        assert len(np.unique(pixels[y:y + h, x:x + w].reshape(-1, 3), axis=0)) == 1, "the e-mail shows"


def test_the_excluded_page_of_a_designated_site_is_not_recorded(rig: Rig, admin: web.WebApp) -> None:
    with web.chromium(rig.vd, rig.profile) as (_, page):
        _, origin = open_page(rig, page, admin.url(WORK, "/admin/login/?next=/admin/"), "Log in")
        vouched(rig)
        type_into(rig, web.screen_box(page, "#id_username", origin), ADMIN_USER)
        type_into(rig, web.screen_box(page, "#id_password", origin), PASSWORD)
        rig.vd.xdotool("key", "Return")
        rig.vd.wait_window(name="^Site administration")  # logged in
        page.goto(admin.url(WORK, "/admin/password_change/"))
        web.browser_window(rig.vd, "Password change")
        time.sleep(2.5)  # past a heartbeat
        assert rig.status()["app"] is None
        type_into(rig, web.screen_box(page, "#id_old_password", origin), "excludedtyping")
        time.sleep(1.2)
    events = rig.stop()

    assert ADMIN_USER in typed(events) and "x" not in typed(events)
    assert "password_change" not in json.dumps(events)
    assert {e["url"] for e in kinds(events, "focus")} <= {admin.url(WORK, "/admin/login/"), admin.url(WORK, "/admin/")}


def test_when_the_native_host_dies_capture_stops_until_the_extension_reconnects(
        rig: Rig, crm: web.WebApp) -> None:
    with web.chromium(rig.vd, rig.profile) as (_, page):
        _, origin = open_page(rig, page, crm.url(WORK, TICKETS), "crm: tickets")
        vouched(rig)
        box = web.screen_box(page, FILTER, origin)
        type_into(rig, box, "before")
        pids = web.host_pids(rig.rec.data_dir)
        assert len(pids) == 1, pids
        os.kill(pids[0], signal.SIGKILL)  # the host this browser started for this test
        web.recording(rig.rec.data_dir, None, timeout=3.0)
        rig.vd.xdotool("type", "--delay", "40", "during")
        time.sleep(0.5)
        assert rig.status()["app"] is None  # still unvouched after the last key
        vouched(rig)  # the extension retries and vouches again
        type_into(rig, box, "after")
        time.sleep(1.2)
    events = rig.stop()

    chars = typed(events)
    assert "before" in chars and "after" in chars and not set("dung") & set(chars)
    gap = next(s for s in excluded_spans(events) if s[0] > int(kinds(events, "mouse_down")[0]["t_ns"]))
    assert [e for e in events if gap[0] < int(e["t_ns"]) < gap[1] and e["kind"] != "marker"] == []
    assert any(int(f["t_ns"]) > gap[1] for f in kinds(events, "frame"))
