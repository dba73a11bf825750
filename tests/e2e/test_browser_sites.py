"""Designated websites end to end: Debian's Chromium with the unpacked extension on the
virtual display, the native host installed into its profile, the recorder as its own process,
and datasette (a real web app) served on loopback under a designated and a personal host name.
Input is real X input from xdotool; Playwright only navigates and reads element boxes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page

from deskscribe.control import request, socket_path
from deskscribe.vdisplay import VirtualDisplay
from tests.e2e import web
from tests.e2e.conftest import RecorderProcess, deskscribe
from tests.support import geometry

pytestmark = pytest.mark.slow

NOTE = "write to jane.doe@example.com about the invoice"
WORK, HOME = "work.example.test", "home.personal.test"
FILTER = 'input[name="_filter_value"]'


EMAIL_RECT = """() => {
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) {
    const i = n.data.indexOf("jane.doe@example.com");
    if (i < 0) continue;
    const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 20);
    const b = r.getBoundingClientRect(); return [b.x, b.y, b.width, b.height];
  }
  return null; }"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[web.WebApp]:
    """datasette on loopback; the port is the site, the host name decides designation."""
    app = web.datasette(tmp_path_factory.mktemp("site"), "work",
                        {"notes": [NOTE, "plain note", "call the supplier"]})
    yield app
    app.stop()


@pytest.fixture
def sites_policy(tmp_path: Path, site: web.WebApp) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(f'version = "sites-1"\ndesignated_apps = []\n'
                    f'designated_sites = ["http://*.example.test:{site.port}/*"]\nscreenshot_interval_s = 1\n')
    return path


def viewport_origin(ctx: BrowserContext, timeout: float = 20.0) -> tuple[int, int]:
    """Where the page's (0, 0) is on screen, once the extension has told the recorder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in ctx.service_workers:
            vps = worker.evaluate("() => globalThis.deskscribeBackground?.port"
                                  " ? [...deskscribeBackground.viewports.values()] : []")
            if vps:
                return round(vps[-1]["x"]), round(vps[-1]["y"])
        time.sleep(0.2)
    raise AssertionError("the extension never reported a viewport")


def click_element(vd: VirtualDisplay, page: Page, selector: str, origin: tuple[int, int],
                  dx: int = 0) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None
    left, top = origin
    x, y = round(box["x"] + left + 10) + dx, round(box["y"] + box["height"] / 2) + top
    vd.xdotool("mousemove", str(x), str(y))
    vd.xdotool("click", "1")
    return {"x": box["x"] + left, "y": box["y"] + top, "w": box["width"], "h": box["height"]}


def test_only_the_designated_site_is_recorded_with_its_url_targets_and_page_pixels(
        vd: VirtualDisplay, tmp_path: Path, sites_policy: Path, site: web.WebApp) -> None:
    data, profile = tmp_path / "data", tmp_path / "profile"
    web.install_host(profile, data)
    rec = RecorderProcess(vd=vd, data_dir=data, policy=sites_policy).start()
    try:
        with web.chromium(vd, profile) as (ctx, page):
            page.goto(site.url(WORK, "/work/notes?_sort=note#private-row"))
            origin = viewport_origin(ctx)
            left, top = origin
            web.recording(rec.data_dir, "Chromium")
            email = page.evaluate(EMAIL_RECT)
            for _ in range(3):
                box = click_element(vd, page, FILTER, origin)
                time.sleep(0.7)
            vd.xdotool("type", "--delay", "60", "abc")
            time.sleep(1.5)
            ocr_pixels = request(socket_path(rec.data_dir), {"cmd": "status"}, timeout=2.0)["ocr_pixels"]
            page.goto(site.url(HOME, "/work/notes?_sort=id#holiday"))
            page.wait_for_load_state()
            web.recording(rec.data_dir, None)  # the extension reported the page as not designated
            click_element(vd, page, FILTER, origin, dx=25)
            vd.xdotool("type", "--delay", "60", "zzz")
            time.sleep(1.0)
        rec.stop()
        events = rec.dump()
    finally:
        rec.kill()
    store = json.dumps(events)
    focus = [e for e in events if e["kind"] == "focus"]
    assert focus and {e["url"] for e in focus} == {site.url(WORK, "/work/notes")}
    assert "personal.test" not in store and "holiday" not in store and "private" not in store and "_sort" not in store
    typed = "".join(str(e["char"]) for e in events if e["kind"] == "key_down")
    assert "abc" in typed and "z" not in typed
    downs = [e for e in events if e["kind"] == "mouse_down"]
    here = round(box["x"] + 10)
    assert len(downs) == 3 and all(e["x"] == here for e in downs), downs  # not the other site's (x + 25)
    targets = [e for e in events if e["kind"] == "target" and e["event"] in ("pointerdown", "focus")]
    assert targets, "no target was recorded for the click"
    bbox = targets[0]["bbox"]
    assert targets[0]["tag"] == "input" and targets[0]["selector"] == FILTER
    assert all(abs(a - b) <= 2 for a, b in zip(bbox, (box["x"], box["y"], box["w"], box["h"]), strict=True))
    assert any(e["kind"] == "marker" and e["marker"] == "excluded" for e in events)
    out = tmp_path / "frames"
    deskscribe("sessions", "frames", rec.session_id, "--data-dir", str(rec.data_dir), "--out", str(out))
    pngs = sorted(out.glob("*.png"))
    assert pngs, "no frame of the designated page was kept"
    assert email is not None
    assert ocr_pixels < email[2] * email[3], "OCR read as much as the e-mail covers: the page's report was not used"
    ex, ey, ew, eh = round(email[0]) + left + 2, round(email[1]) + top + 2, round(email[2]) - 4, round(email[3]) - 4
    for png in pngs:
        pixels = np.asarray(Image.open(png).convert("RGB"))
        assert not pixels[: top - 2].any(), f"{png.name} keeps the browser's tab strip or address bar"
        assert pixels[top + 5:].any(), f"{png.name} has no page pixels"
        shown = pixels[ey:ey + eh, ex:ex + ew]
        assert (shown == 128).all(), f"{png.name} shows the e-mail address the page reported"


def record(vd: VirtualDisplay, tmp_path: Path, policy: str) -> tuple[RecorderProcess, Path]:
    """The recorder under ``policy`` and a browser profile whose native host reaches it."""
    path, data, profile = tmp_path / "policy.toml", tmp_path / "data", tmp_path / "profile"
    path.write_text(policy)
    web.install_host(profile, data)
    return RecorderProcess(vd=vd, data_dir=data, policy=path).start(), profile


def built_steps(rec: RecorderProcess, out: Path) -> list[dict[str, object]]:
    deskscribe("build", "--data-dir", str(rec.data_dir), "--out", str(out), "--format", "jsonl")
    return [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]


def test_a_select_change_is_exported_as_select_with_the_chosen_option(
        vd: VirtualDisplay, tmp_path: Path, site: web.WebApp) -> None:
    rec, profile = record(vd, tmp_path, f'version = "sites-2"\ndesignated_apps = []\n'
                                        f'designated_sites = ["http://*.example.test:{site.port}/*"]\n')
    try:
        with web.chromium(vd, profile) as (ctx, page):
            page.goto(site.url(WORK, "/work/notes"))
            origin = viewport_origin(ctx)
            web.vouched(rec.data_dir)
            box = click_element(vd, page, 'select[name="_filter_column"]', origin)
            time.sleep(0.5)  # the option list is open
            vd.xdotool("key", "Down")
            vd.xdotool("key", "Return")
            time.sleep(1.0)
            chosen = page.eval_on_selector('select[name="_filter_column"]', "s => s.selectedOptions[0].text")
        rec.stop()
    finally:
        rec.kill()
    assert chosen == "id"  # the keys really chose an option
    steps = built_steps(rec, tmp_path / "out")
    selects = [s["action"] for s in steps if s["action"]["type"] == "select"]  # type: ignore[index]
    assert len(selects) == 1 and selects[0]["value"] == "id", [s["action"] for s in steps]
    target = next(s["target"] for s in steps if s["action"]["type"] == "select")  # type: ignore[index]
    assert target["tag"] == "select" and target["selector"] == 'select[name="_filter_column"]'
    left, top, right, bottom = target["bbox"]  # fractions of the screen
    assert abs(left * vd.width - box["x"]) <= 2 and abs(top * vd.height - box["y"]) <= 2
    assert abs((right - left) * vd.width - box["w"]) <= 2 and abs((bottom - top) * vd.height - box["h"]) <= 2


def test_site_masks_are_black_in_every_frame_and_typing_into_them_is_masked(
        vd: VirtualDisplay, tmp_path: Path, site: web.WebApp) -> None:
    rec, profile = record(vd, tmp_path, f'''version = "sites-3"
designated_apps = []
designated_sites = ["http://*.example.test:{site.port}/*"]
screenshot_interval_s = 1
[[site_masks]]
url = "http://work.example.test:{site.port}/work/*"
selectors = ["table.rows-and-columns", "input[name=_filter_value]"]
''')
    try:
        with web.chromium(vd, profile) as (ctx, page):
            page.goto(site.url(WORK, "/work/notes"))
            origin = viewport_origin(ctx)
            web.vouched(rec.data_dir)
            table = page.locator("table.rows-and-columns").bounding_box()
            field = click_element(vd, page, FILTER, origin)
            vd.xdotool("type", "--delay", "60", "supplier")
            vd.xdotool("key", "Tab")
            time.sleep(2.0)  # periodic frames with the field filled
        rec.stop()
        events = rec.dump()
    finally:
        rec.kill()
    store = json.dumps(events)
    assert "supplier" not in store and "jane.doe" not in store and "invoice" not in store
    assert [e["text"] for e in events if e["kind"] == "text"] == ["<MASKED>"]
    assert not [e for e in events if e["kind"] == "key_down" and e.get("char")]
    assert table is not None
    left, top = origin
    shown = [(round(table["x"]) + left + 1, round(table["y"]) + top + 1, round(table["width"]) - 2, 40),
             (round(field["x"]) + 1, round(field["y"]) + 1, round(field["w"]) - 2, round(field["h"]) - 2)]
    out = tmp_path / "frames"
    deskscribe("sessions", "frames", rec.session_id, "--data-dir", str(rec.data_dir), "--out", str(out))
    pngs = sorted(out.glob("*.png"))
    frames = {png.name: np.asarray(Image.open(png).convert("RGB")) for png in pngs}
    assert any(px[top + 5:].any() for px in frames.values()), "no frame shows the page"
    for name, pixels in frames.items():
        for x, y, w, h in shown:
            assert not pixels[y:y + h, x:x + w].any(), f"{name} shows a masked element at {(x, y, w, h)}"


def test_a_browser_without_the_extension_is_excluded_on_a_designated_site(
        vd: VirtualDisplay, tmp_path: Path, site: web.WebApp) -> None:
    rec, profile = record(vd, tmp_path, f'version = "sites-4"\ndesignated_apps = []\n'
                                        f'designated_sites = ["http://*.example.test:{site.port}/*"]\n')
    try:
        with web.chromium(vd, profile, extension=False) as (_, page):
            page.goto(site.url(WORK, "/work/notes"))
            web.browser_window(vd, "work: notes")
            time.sleep(2.5)  # an extension would have vouched by now
            status = request(socket_path(rec.data_dir), {"cmd": "status"}, timeout=2.0)
            vd.xdotool("mousemove", "300", "400")
            vd.xdotool("click", "1")
            vd.xdotool("type", "--delay", "40", "secret")
            time.sleep(1.0)
        rec.stop()
        events = rec.dump()
    finally:
        rec.kill()
    assert status["app"] is None and status["browser"]["connected"] == 0
    assert [e["marker"] for e in events if e["kind"] == "marker"] == ["start", "excluded", "stop"]
    assert len(events) == 3 and "example.test" not in json.dumps(events)


def test_a_policy_without_designated_sites_records_a_designated_browser_app_as_before(
        vd: VirtualDisplay, tmp_path: Path, site: web.WebApp) -> None:
    rec, profile = record(vd, tmp_path, 'version = "apps-1"\ndesignated_apps = ["Chromium"]\n'
                                        'screenshot_interval_s = 1\n')
    try:
        with web.chromium(vd, profile) as (_, page):
            page.goto(site.url(WORK, "/work/notes"))
            wx, wy, ww, _ = geometry(vd, web.browser_window(vd, "work: notes"))
            web.recording(rec.data_dir, "Chromium")
            status = request(socket_path(rec.data_dir), {"cmd": "status"}, timeout=2.0)
            vd.xdotool("mousemove", "300", "400")
            vd.xdotool("click", "1")
            time.sleep(1.5)
        rec.stop()
        events = rec.dump()
    finally:
        rec.kill()
    assert "browser" not in status  # no extension is asked anything: the app is designated whole
    assert [(e["x"], e["y"]) for e in events if e["kind"] == "mouse_down"] == [(300, 400)]
    focus = [e for e in events if e["kind"] == "focus"]
    assert focus and all(e["app"] == "Chromium" and e["url"] is None for e in focus)
    out = tmp_path / "frames"
    deskscribe("sessions", "frames", rec.session_id, "--data-dir", str(rec.data_dir), "--out", str(out))
    pngs = sorted(out.glob("*.png"))
    assert pngs
    for png in pngs:  # the whole client area is the app's, the tab strip included, as for any app
        pixels = np.asarray(Image.open(png).convert("RGB"))
        assert pixels[wy + 5:wy + 60, wx + 5:wx + ww - 5].any(), f"{png.name} lost the browser's own area"
