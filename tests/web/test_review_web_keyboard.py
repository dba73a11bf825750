"""The review pages with the keyboard alone (Tab, Enter, arrow keys), axe-core on each, and
the command line's rules kept: a changed approved session needs approving again, an
uploaded one no longer changes, an upload that cannot start says why in one line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from deskscribe.outbox import Outbox
from tests.support import cli
from tests.web.conftest import ReviewServer, assert_accessible, screenshot, synthetic_session


@pytest.fixture
def served(tmp_path: Path, web_env: dict[str, str]) -> Iterator[tuple[ReviewServer, Path, str]]:
    data = tmp_path / "data"
    sid = synthetic_session(data, steps=8)
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "k-1"\ndesignated_apps = ["XTerm"]\n')
    server = ReviewServer(data, web_env, "--policy", str(policy))
    yield server, data, sid
    server.stop()
    assert "Traceback" not in server.proc.stderr.read()  # type: ignore[union-attr]  # every refusal was one line


def tab_to(page: Page, target: Locator, limit: int = 60) -> None:
    """Press Tab until ``target`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def notice(page: Page) -> str:
    return page.locator(".notice").first.inner_text()


def test_keyboard_alone_reviews_a_session(browser: Browser, served: tuple[ReviewServer, Path, str],
                                          web_env: dict[str, str]) -> None:
    server, data, sid = served
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server.login_url)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    tab_to(page, page.get_by_role("link", name=sid))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(f"Session {sid}"))).to_be_visible()
    tab_to(page, page.get_by_role("link", name="Episode 1"))
    page.keyboard.press("Enter")
    stage = page.locator("[data-stage]")
    expect(stage).to_have_attribute("data-ready", "1")
    tab_to(page, stage)
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    caption = page.locator("[data-caption-title]")
    expect(caption).to_have_text("Step 4 of 9")
    expect(page.locator("[data-step][aria-current]")).to_have_attribute("data-index", "4")
    page.keyboard.press("Home")
    expect(caption).to_have_text("Step 1 of 9")
    page.keyboard.press("End")
    expect(caption).to_have_text("End of 9")
    expect(page.get_by_role("button", name=re.compile("^Delete"))).to_be_disabled()  # the end is no step
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # step 3, a click
    screenshot(page, "8-keyboard-step-3")

    tab_to(page, page.get_by_role("button", name="Delete step 3"))
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_contain_text("deleted step 3")
    assert_accessible(page)

    # Black out by typing the corners; Enter in the last field sends the form.
    for name, value in (("Left %", "5"), ("Top %", "8"), ("Right %", "40"), ("Bottom %", "16")):
        tab_to(page, page.get_by_label(name, exact=True))
        page.keyboard.type(value)
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_contain_text(re.compile(r"blacked out \d+x\d+ pixels in \d+ screenshots?"))

    tab_to(page, page.get_by_label("What was the task, as you would tell an agent?"))
    page.keyboard.type("Mail jane.roe@example.org the notes")
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_contain_text("(replaced: EMAIL_ADDRESS)")
    expect(page.get_by_role("heading", level=1)).to_have_text("Episode 1: Mail <EMAIL_ADDRESS> the notes")
    assert_accessible(page)
    screenshot(page, "9-keyboard-annotated")

    page.keyboard.press("Tab")
    tab_to(page, page.get_by_role("link", name=f"Session {sid}"))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("button", name="Approve for upload"))
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_have_text(f"approved {sid}: upload it when you are ready")
    assert sid in Outbox(root=data).approved()
    assert_accessible(page)
    screenshot(page, "10-approved")

    # Not enrolled: the upload page says so in one line.
    tab_to(page, page.get_by_role("button", name="Upload now"))
    page.keyboard.press("Enter")
    expect(page.locator("[data-upload]")).to_have_attribute("data-state", "failed")
    expect(page.locator("[data-upload-status]")).to_contain_text("not enrolled")
    assert_accessible(page)
    screenshot(page, "11-upload-refused")
    shown = cli("review", "show", sid, "--data-dir", str(data), env=web_env).stdout
    assert "'Mail <EMAIL_ADDRESS> the notes' (given in review)" in shown


def test_changes_follow_the_command_lines_rules(browser: Browser, served: tuple[ReviewServer, Path, str],
                                               web_env: dict[str, str]) -> None:
    server, data, sid = served
    box = Outbox(root=data)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server.login_url)
    assert_accessible(page)
    screenshot(page, "0-sessions")
    box.approve(sid)
    page.goto(f"{server.base}/sessions/{sid}/episodes/1")
    expect(page.get_by_label("What was the task, as you would tell an agent?")).to_have_count(0)
    page.get_by_role("button", name="Delete step 1").click()
    expect(page.locator(".notice")).to_contain_text("it was approved, so it needs approving again")
    assert sid not in box.approved()
    page.goto(f"{server.base}/sessions/{sid}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("to review")

    box.approve(sid)
    box.mark_uploaded(sid)
    before = (data / "sessions" / f"{sid}.db").read_bytes()
    page.goto(f"{server.base}/sessions/{sid}/episodes/1")
    assert page.get_by_role("button", name=re.compile("^(Delete|Black out)")).count() == 0
    assert_accessible(page)
    screenshot(page, "12-uploaded-episode")
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    refused = page.request.post(f"{server.base}/sessions/{sid}/drop", form={
        "csrf_token": token or "", "step": "1", "episode": "1"})
    assert refused.ok and "already uploaded" in refused.text()
    refused = page.request.post(f"{server.base}/sessions/{sid}/episodes/1/instruction", form={
        "csrf_token": token or "", "text": "too late"})
    assert "already uploaded; its instructions can no longer change" in refused.text()
    assert (data / "sessions" / f"{sid}.db").read_bytes() == before
    page.goto(f"{server.base}/sessions/{sid}/episodes/7")
    assert_accessible(page)
    screenshot(page, "13-no-such-episode")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not available")

    # Deleting the whole session needs the box ticked; then it is gone from this computer.
    page.goto(f"{server.base}/sessions/{sid}")
    page.get_by_role("button", name="Delete session").click()
    expect(page.locator(".notice")).to_contain_text("nothing was deleted: tick the box")
    assert (data / "sessions" / f"{sid}.db").exists()
    page.get_by_label("Yes, delete this whole session from this computer").check()
    page.get_by_role("button", name="Delete session").click()
    expect(page.locator(".notice")).to_have_text(f"deleted session {sid} from this computer")
    assert not (data / "sessions" / f"{sid}.db").exists() and sid not in Outbox(root=data).approved()
    expect(page.get_by_role("row").filter(has_text=sid)).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    assert_accessible(page)
    screenshot(page, "14-signed-out")
    assert page.goto(f"{server.base}/").status == 401
    assert_accessible(page)
    screenshot(page, "15-no-cookie")
    assert page.goto(server.login_url).status == 403  # the link was spent
    assert_accessible(page)
    screenshot(page, "16-spent-link")
