"""A contributor reviews a session recorded for real (xterm on Xvfb, the recorder as its own
process) in Chromium, against `deskscribe review --web --no-open` run as its own process:
drops a step, blacks out an area (checked in every decoded stored frame), gives the episode
its instruction, approves and uploads to a real collector, every page checked with axe-core."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from deskscribe.datadir import DataDir
from deskscribe.frame_codec import FrameSource
from deskscribe.keystore import FileKeyBackend
from deskscribe.vdisplay import VirtualDisplay
from deskscribe.web.blackout import box_from_fractions
from tests.e2e.conftest import RecorderProcess, vd  # noqa: F401  (the virtual desktop fixture)
from tests.support import Collector, cli
from tests.web.conftest import ReviewServer, assert_accessible, screenshot

pytestmark = pytest.mark.slow
W, H = 1280, 800


@pytest.fixture
def recorded(vd: VirtualDisplay, tmp_path: Path) -> Iterator[tuple[Path, str]]:  # noqa: F811
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "web-1"\ndesignated_apps = ["XTerm"]\nscreenshot_interval_s = 30\n')
    term = vd.spawn(["xterm", "-T", "Notes", "-geometry", "100x40+40+40", "-e", "cat"])
    try:
        vd.activate(vd.wait_window(name="Notes"))
        rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy).start()
        x = vd.xdotool
        x("mousemove", "--sync", "300", "300")
        x("click", "1")
        time.sleep(1.0)
        x("type", "--delay", "30", "Project Orion budget")
        x("key", "Return")
        for n, (px, py) in enumerate([(320, 320), (340, 340), (360, 360), (380, 380)]):
            time.sleep(0.5)
            x("mousemove", "--sync", str(px), str(py))
            time.sleep(0.3)
            x("click", "1")
            time.sleep(0.6)
            x("type", "--delay", "30", f"line {n}")
            x("key", "Return")
        time.sleep(0.5)
        rec.stop()
        yield rec.data_dir, rec.session_id
    finally:
        term.terminate()


def frames(data: Path, sid: str) -> dict[int, np.ndarray]:
    """Every stored screenshot of the session, decoded from the encrypted store."""
    dd = DataDir(root=data, key_backend=FileKeyBackend(path=data / "contributor.key"))
    with dd.open(sid) as reader:
        source = FrameSource(reader=reader)
        return {i: np.asarray(source.image(i).convert("RGB")) for i in reader.frame_ids()}


def flash(page: Page) -> str:
    return page.locator(".notice").first.inner_text()


def shown_actions(data: Path, sid: str, env: dict[str, str]) -> list[str]:
    out = cli("review", "show", sid, "--data-dir", str(data), env=env).stdout
    return [line for line in out.splitlines() if re.match(r"^\s+\d+\s+[\d.]+s\s", line)]


def test_contributor_reviews_blacks_out_annotates_approves_and_uploads(
        browser: Browser, recorded: tuple[Path, str], web_env: dict[str, str], tmp_path: Path) -> None:
    data, sid = recorded
    collector = Collector(tmp_path, web_env).start()
    server = ReviewServer(data, web_env, "--policy", str(tmp_path / "policy.toml"))  # what it recorded under
    try:
        code = cli("admin", "enrol-code", "--db", collector.db, "--data-dir", str(tmp_path / "srv"),
                   env=web_env).stdout.strip()
        cli("enrol", collector.url, code, "--data-dir", str(data), env=web_env)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        chosen_id, area = _review(page, server, data, sid, web_env)
        _approve_and_upload(page, server, data, sid, collector)
        # What the collector holds is the rewritten session: the area is black there too.
        held = b"".join(p.read_bytes() for p in sorted((tmp_path / "blobs").rglob("*")) if p.is_file())
        copy = tmp_path / "held"
        (copy / "sessions").mkdir(parents=True)
        (copy / "sessions" / f"{sid}.db").write_bytes(held)
        (copy / "contributor.key").write_bytes((data / "contributor.key").read_bytes())
        (copy / "contributor.key").chmod(0o600)
        uploaded = frames(copy, sid)
        assert set(uploaded) == set(frames(data, sid))
        assert not uploaded[chosen_id][area.y:area.y + area.height, area.x:area.x + area.width].any()
    finally:
        server.stop()
        collector.kill()
    assert "Traceback" not in server.proc.stderr.read()  # type: ignore[union-attr]


def _review(page: Page, server: ReviewServer, data: Path, sid: str, env: dict[str, str]) -> tuple[int, Any]:
    page.goto(server.login_url)
    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=sid)
    expect(row).to_contain_text("to review")
    expect(row).to_contain_text("XTerm")
    assert_accessible(page)
    screenshot(page, "1-sessions")

    page.get_by_role("link", name=sid).click()
    expect(page.get_by_role("heading", name=re.compile(f"Session {sid}"))).to_be_visible()
    assert_accessible(page)
    screenshot(page, "2-session")

    page.get_by_role("link", name="Episode 1").click()
    viewer = page.locator("[data-viewer]")
    expect(viewer.locator("[data-stage][data-ready]")).to_have_count(1)
    assert_accessible(page)
    screenshot(page, "3-episode-step-1")
    before_actions = shown_actions(data, sid, env)
    thumbs = viewer.locator("[data-step]")
    n_steps = thumbs.count()
    assert n_steps == len(before_actions) + 1  # every action, then the episode's end
    # The full image of step 1 only; later steps' full images are loaded when shown.
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert sum(".png" in u for u in loaded) <= 2

    # Arrow keys walk the steps; the overlay of the shown step only is visible.
    page.locator("[data-stage]").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(viewer.locator("[data-caption-title]")).to_have_text(f"Step 4 of {n_steps}")
    expect(viewer.locator("[data-overlay]:not([hidden])")).to_have_count(1)
    expect(viewer.locator("[data-overlay='3'] circle.point")).to_be_visible()  # the click, drawn
    screenshot(page, "4-episode-step-4")

    # Drop step 4 (the second click): its events and screenshot go.
    frames_before = frames(data, sid)
    assert "click at (320, 320)" in before_actions[3]
    page.get_by_role("button", name="Delete step 4").click()
    assert flash(page).startswith("deleted step 4:")
    after_actions = shown_actions(data, sid, env)
    assert not any("click at (320, 320)" in a for a in after_actions)  # the pointer's way there may stay, as a move
    assert [a.split()[2:] for a in after_actions if "(320, 320)" not in a] == [
        a.split()[2:] for a in before_actions[:3] + before_actions[4:]]
    kept = frames(data, sid)
    assert set(kept) < set(frames_before)

    # Black out the typed first line on the last click's screenshot, by dragging a box.
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    image = page.locator("[data-shot]")
    box = image.bounding_box()
    assert box is not None
    fx0, fy0, fx1, fy1 = 40 / W, 40 / H, 400 / W, 92 / H  # the xterm's first line
    page.mouse.move(box["x"] + fx0 * box["width"], box["y"] + fy0 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.07 * box["height"], steps=4)
    page.mouse.move(box["x"] + fx1 * box["width"], box["y"] + fy1 * box["height"], steps=4)
    page.mouse.up()
    corners = {k: float(page.locator(f"#bo-{k}").input_value()) for k in ("x0", "y0", "x1", "y1")}
    position = int(page.locator("[data-position-field]").input_value())
    assert abs(corners["x0"] - fx0 * 100) < 0.5 and abs(corners["y1"] - fy1 * 100) < 0.5
    screenshot(page, "5-blackout-drawn")
    area = box_from_fractions(corners["x0"] / 100, corners["y0"] / 100, corners["x1"] / 100,
                              corners["y1"] / 100, W, H)
    chosen_id = _frame_of(data, sid, position)
    page.get_by_role("button", name="Black out").click()
    assert flash(page).startswith("blacked out"), flash(page)
    screenshot(page, "6-blackout-done")
    _check_blackout(kept, frames(data, sid), chosen_id, area)

    # The instruction, typed and sent with Enter.
    field = page.get_by_label("What was the task, as you would tell an agent?")
    field.fill("Write the Orion budget notes")
    field.press("Enter")
    assert "instruction set to 'Write the Orion budget notes'" in flash(page)
    expect(page.get_by_role("heading", name="Episode 1: Write the Orion budget notes")).to_be_visible()
    shown = cli("review", "show", sid, "--data-dir", str(data), env=env).stdout
    assert "'Write the Orion budget notes' (given in review)" in shown
    return chosen_id, area


def _frame_of(data: Path, sid: str, position: int) -> int:
    from deskscribe.web.changes import episodes_of

    dd = DataDir(root=data, key_backend=FileKeyBackend(path=data / "contributor.key"))
    with dd.open(sid) as reader:
        frame_id = episodes_of(reader)[0].steps[position].frame_id
    assert frame_id is not None
    return frame_id


def _check_blackout(before: dict[int, np.ndarray], after: dict[int, np.ndarray], chosen_id: int, area: Any) -> None:
    ys, xs = slice(area.y, area.y + area.height), slice(area.x, area.x + area.width)
    assert set(after) == set(before)
    wanted = before[chosen_id][ys, xs]
    assert wanted.any()  # there was something to black out
    blacked = []
    for fid, old in before.items():
        new = after[fid]
        outside = np.ones(old.shape[:2], bool)
        outside[ys, xs] = False
        assert (new[outside] == old[outside]).all(), f"frame {fid} changed outside the area"
        if np.array_equal(old[ys, xs], wanted):  # showed exactly the chosen pixels
            assert not new[ys, xs].any(), f"frame {fid} still shows what was blacked out"
        if not new[ys, xs].any() and old[ys, xs].any():
            blacked.append(fid)
        else:
            assert np.array_equal(new, old), f"frame {fid} was partly changed"
    assert chosen_id in blacked and len(blacked) >= 2, blacked  # the line was on screen for several frames


def _approve_and_upload(page: Page, server: ReviewServer, data: Path, sid: str, collector: Collector) -> None:
    page.get_by_role("link", name=f"Session {sid}").click()
    removed = re.search(r"Removed by you in review\s*(\d+) events deleted, (\d+) screenshots with areas blacked out",
                        page.locator("dl").inner_text())
    assert removed is not None and int(removed.group(1)) >= 1 and int(removed.group(2)) >= 2
    page.get_by_role("button", name="Approve for upload").click()
    assert flash(page) == f"approved {sid}: upload it when you are ready"
    expect(page.get_by_role("heading", name=re.compile(f"Session {sid}"))).to_contain_text("approved")
    # An approved session's instruction no longer changes, as on the command line.
    assert page.get_by_label("Instruction for episode 1").count() == 0
    page.get_by_role("button", name="Upload now").click()
    status = page.locator("[data-upload]")
    expect(status).to_have_attribute("data-state", "uploaded", timeout=60_000)
    expect(page.locator("progress")).to_have_attribute("value", re.compile(r"[1-9]"))
    assert_accessible(page)
    screenshot(page, "7-uploaded")
    page.goto(server.base + "/")
    expect(page.get_by_role("row").filter(has_text=sid)).to_contain_text("uploaded")
    outbox = json.loads((data / "outbox.json").read_text())
    assert sid in outbox["uploaded"]
    engine = create_engine(collector.db)
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, chunks FROM sessions")).all()
        held = c.execute(text("SELECT COUNT(*) FROM chunks")).scalar()
    assert [r.id for r in rows] == [sid] and rows[0].chunks == held
