"""The console in Chromium against a real collector with eleven contributors' uploads: a steward
signs in with a link the CLI printed, publishes a policy after seeing its diff and notice,
and builds a dataset; an ML engineer browses an episode with the keyboard alone; an auditor
verifies the chain, then sees where a tampered entry breaks it. Every page passes axe-core
(no serious or critical findings) and is kept as a 1280x800 screenshot."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import text

from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.roles import Device
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key
from tests.support import Served, run
from tests.web.conftest import assert_accessible
from tests.web.test_console_fixtures import SHOTS, crowd

FIRST = 'version = "2026-11"\ndesignated_apps = ["XTerm"]\nscreenshot_interval_s = 10\n'
SECOND = ('version = "2026-12"\ndesignated_apps = ["XTerm", "Mousepad"]\nscreenshot_interval_s = 5\n\n'
          '[regions.DE]\nrequires = ["dpia", "works_agreement"]\n')


@dataclass
class Collector:
    served: Served
    db: str
    tmp: Path
    people: list[dict[str, str]]

    def link(self, role: str, *more: str) -> str:
        """A sign-in link exactly as `deskscribe admin login-link` prints it."""
        out = run("admin", "login-link", "--role", role, *more, "--url", self.served.url, "--db", self.db,
                  "--blobs", str(self.tmp / "blobs"), "--key-file", str(self.tmp / "cli.key"))
        assert out.returncode == 0, out.stderr
        link = out.stdout.strip()
        assert re.fullmatch(re.escape(self.served.url) + r"/ui/sign-in\?link=[\w-]+", link), link
        return link


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    tmp = tmp_path_factory.mktemp("console")
    db = f"sqlite:///{tmp / 'collector.db'}"
    engine = connect(db)
    store = CollectorStore.open(engine=engine, blobs=tmp / "blobs", private_key=new_collector_key())
    served = Served(store).start()
    try:
        yield Collector(served, db, tmp, crowd(served, tmp, 11))
    finally:
        served.stop()
        engine.dispose()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # The console's CSP allows only its own scripts; axe-core is injected by the test.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    yield context.new_page()
    context.close()


def check(page: Page, name: str) -> None:
    assert_accessible(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def sign_in(page: Page, link: str) -> None:
    page.goto(link)
    check(page, "sign-in")
    page.get_by_role("button", name="Sign in").click()


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_steward_publishes_a_policy_and_builds_a_dataset(collector: Collector, page: Page) -> None:
    sign_in(page, collector.link("steward"))
    expect(page.get_by_role("heading", name="Policy")).to_be_visible()
    check(page, "policy-none")
    for name, body in (("first", FIRST), ("second", SECOND)):
        path = collector.tmp / f"{name}.toml"
        path.write_text(body)
        page.get_by_label("Policy file (TOML)").set_input_files(str(path))
        page.get_by_role("button", name="Preview").click()
        notice = page.locator(".notice-preview")
        expect(notice).to_contain_text("XTerm")
        if name == "first":
            expect(page.get_by_text("This is the first policy")).to_be_visible()
        else:
            expect(page.locator("pre.diff ins")).to_contain_text(['designated_apps = ["XTerm", "Mousepad"]',
                                                                  "screenshot_interval_s = 5"])
            expect(page.locator("pre.diff del")).to_contain_text(['designated_apps = ["XTerm"]',
                                                                  "screenshot_interval_s = 10"])
            expect(notice).to_contain_text("Mousepad")
            expect(notice).to_contain_text("one every 5 s")
            expect(page.get_by_text("The notice changes")).to_be_visible()
        check(page, f"policy-preview-{name}")
        page.get_by_role("button", name=re.compile("^Publish ")).click()
        version = re.search(r'version = "([^"]+)"', body).group(1)  # type: ignore[union-attr]
        expect(page.get_by_role("status")).to_contain_text(f"Published policy {version}.")
    check(page, "policy-published")
    page.goto(collector.served.url + "/ui")
    expect(page.get_by_role("main").get_by_role("link")).to_have_count(7)  # every steward page
    check(page, "home")
    page.goto(collector.served.url + "/ui/policy")
    with collector.served.client() as c:  # what recorders fetch now
        token = collector.people[0]["token"]
        assert c.get("/v1/policy", headers={"Authorization": f"Bearer {token}"}).json()["version"] == "2026-12"

    page.get_by_role("link", name="Datasets").click()
    check(page, "datasets-empty")
    page.get_by_label("Format").select_option("jsonl")
    page.get_by_role("button", name="Build").click()
    row = page.locator("tr[data-dataset]").first
    expect(row).to_have_attribute("data-state", "building")
    check(page, "datasets-building")
    expect(row).to_have_attribute("data-state", "ready", timeout=120_000)  # the page follows the build
    expect(page.get_by_role("status").last).to_have_text("The build finished.")
    expect(row.locator("td").nth(4)).to_have_text("11")  # contributors
    check(page, "datasets-ready")

    with collector.served.client(collector.people[-2]["token"]) as c:  # one of them erases their data
        assert c.delete("/v1/me").status_code == 200
    page.goto(collector.served.url + "/ui/datasets")
    first = row.get_attribute("data-dataset")
    expect(row).to_have_attribute("data-state", "stale")
    expect(row).to_contain_text("a contributor erased their data; rebuild it")
    check(page, "datasets-stale")
    page.get_by_role("button", name=f"Rebuild {first}").click()
    rebuilt = page.locator("tr[data-dataset]").first
    expect(rebuilt).to_contain_text(f"rebuild of {first}")
    expect(rebuilt).to_have_attribute("data-state", "ready", timeout=120_000)
    expect(rebuilt.locator("td").nth(4)).to_have_text("10")

    page.get_by_role("link", name="Regions").click()
    expect(page.get_by_role("cell", name="disabled: needs dpia, works_agreement")).to_be_visible()
    page.get_by_label("Region", exact=True).fill("DE")
    page.get_by_label("DPIA reference").fill("DPIA-2026-07")
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("cell", name="disabled: needs works_agreement")).to_be_visible()
    check(page, "regions")

    page.get_by_role("link", name="Enrolment codes").click()
    page.get_by_label("Role").select_option("auditor")
    page.get_by_role("button", name="Create code").click()
    code = page.locator(".code code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){4}", code)
    check(page, "enrol-codes")
    assert collector.served.store.enrol(code)[0].role == "auditor"  # the code shown is a working one

    page.get_by_role("link", name="Devices").click()
    victim = collector.people[-1]["device_id"]
    page.get_by_role("button", name=f"Revoke device {victim}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Revoked device {victim}")
    check(page, "devices")
    with collector.served.client(collector.people[-1]["token"]) as c:
        assert c.get("/v1/me/sessions").status_code == 401

    page.get_by_role("link", name="Retention").click()
    page.get_by_role("button", name="Run retention now").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted 0 sessions and expired 0 datasets")
    check(page, "retention")
    page.get_by_role("link", name="Fleet").click()
    expect(page.get_by_role("row", name=re.compile("Complete sessions"))).to_contain_text("10")  # 11, one erased
    check(page, "fleet")
    page.goto(collector.served.url + "/ui/audit")
    expect(page.get_by_role("alert")).to_contain_text("this needs the auditor role")
    check(page, "refused")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    check(page, "signed-out")
    page.goto(collector.served.url + "/ui/datasets")
    expect(page.get_by_role("heading", name="Sign-in needed")).to_be_visible()
    check(page, "sign-in-needed")
    page.goto(collector.served.url + "/ui/sign-in")  # without a link: how to get one
    expect(page.locator("main pre")).to_contain_text("deskscribe admin login-link --role ROLE")
    check(page, "sign-in-help")


@pytest.fixture(scope="module")
def built(collector: Collector) -> str:
    """A ready jsonl dataset of the contributors' sessions (ten, once one has erased theirs)."""
    builds = DatasetBuilds(store=collector.served.store)
    return builds.build(Device("test-steward", "", "steward"), "jsonl", 100).id


def test_an_ml_engineer_browses_an_episode_with_the_keyboard_only(collector: Collector, built: str,
                                                                    page: Page) -> None:
    page.goto(collector.link("ml_engineer"))
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible()
    check(page, "datasets-ml")
    tab_to(page, f'a[href="/ui/datasets/{built}"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Dataset {built}")).to_be_visible()
    check(page, "dataset-files")
    with page.expect_download() as download:
        tab_to(page, 'a[href$="/files/README.md"]')
        page.keyboard.press("Enter")
    assert "collected" in Path(download.value.path()).read_text().lower()

    tab_to(page, f'a[href="/ui/datasets/{built}/episodes"]')
    page.keyboard.press("Enter")
    expect(page.locator("tbody tr")).to_have_count(10)  # one episode from each contributor still here
    check(page, "episodes")
    tab_to(page, "tbody tr:first-child a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Episode "))).to_be_visible()
    instruction = page.locator("main q").inner_text()
    assert re.fullmatch(r"Write canary\d\d", instruction)
    typed = instruction.split()[-1]

    caption = page.locator("[data-caption]")
    expect(caption).to_contain_text("Step 1 of")
    expect(caption).to_contain_text("click")
    thumbs = page.locator(".thumb img")
    assert thumbs.count() >= 2
    page.wait_for_function("() => [...document.querySelectorAll('.thumb img')].every(i => i.complete && i.naturalWidth > 0)")
    assert thumbs.first.evaluate("i => i.naturalWidth") == 320  # a thumbnail, not the 1000 px screenshot
    shot = page.locator("img[data-shot]")
    assert shot.evaluate("i => i.naturalWidth") == 1000 and "size=thumb" not in str(shot.get_attribute("src"))
    check(page, "episode-viewer")

    tab_to(page, "[data-stage]")
    page.keyboard.press("ArrowRight")
    expect(caption).to_contain_text("Step 2 of")
    expect(caption).to_contain_text(f"type '{typed}'")
    expect(shot).to_have_attribute("src", re.compile(r"/steps/1\.png$"))  # the next screenshot, full size
    page.keyboard.press("End")
    expect(caption).to_contain_text("End of")
    page.keyboard.press("Home")
    expect(caption).to_contain_text("Step 1 of")
    check(page, "episode-viewer-keyboard")

    entries = collector.served.store.audit_log(Device("test-auditor", "", "auditor"))
    reads = {e.subject for e in entries if e.action == "dataset_read" and e.subject.startswith(built)}
    assert f"{built}/steps.jsonl" in reads and f"{built}/README.md" in reads
    assert any(s.startswith(f"{built}/images/") for s in reads)  # screenshots are audited reads too


def test_an_hf_build_is_browsed_like_a_jsonl_one(collector: Collector) -> None:
    from PIL import Image

    from tests.web.test_console_fixtures import sign_in as signed_client

    hf = DatasetBuilds(store=collector.served.store).build(Device("test-steward", "", "steward"), "hf", 100)
    engineer = signed_client(collector.served, "ml_engineer")
    listing = engineer.http.get(f"/ui/datasets/{hf.id}/episodes")
    assert listing.status_code == 200
    episodes = re.findall(rf'href="/ui/datasets/{hf.id}/episodes/([^"]+)"', listing.text)
    assert len(episodes) == hf.episodes == 10
    shown = engineer.http.get(f"/ui/datasets/{hf.id}/episodes/{episodes[0]}")
    thumbs = re.findall(r'<img src="([^"]+size=thumb)"', shown.text)
    assert shown.status_code == 200 and len(thumbs) == 3 and "type &#39;canary" in shown.text
    thumb = engineer.http.get(thumbs[0].replace("&amp;", "&"))
    full = engineer.http.get(thumbs[0].split("?")[0])
    assert thumb.headers["content-type"] == "image/jpeg" and full.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 160)
    assert Image.open(io.BytesIO(full.content)).size == (1000, 500) and len(thumb.content) < len(full.content)


def test_a_contributor_sees_their_own_page(collector: Collector, page: Page) -> None:
    me = collector.people[0]
    sign_in(page, collector.link("contributor", "--device", me["device_id"]))
    expect(page.get_by_role("heading", name="My data on the collector")).to_be_visible()
    sessions = page.get_by_role("table", name="Your uploaded sessions")
    expect(sessions.get_by_role("cell", name=me["session"])).to_be_visible()
    expect(page.get_by_role("table", name="Audit entries about your data")).to_contain_text("dataset_build")
    for other in collector.people[1:]:
        expect(page.get_by_text(other["session"])).to_have_count(0)
    check(page, "me")


def test_an_auditor_sees_where_a_tampered_entry_breaks_the_chain(collector: Collector, page: Page) -> None:
    page.goto(collector.link("auditor"))
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    tab_to(page, "button[name=verify]")
    page.keyboard.press("Enter")
    expect(page.locator("[data-chain]")).to_have_attribute("data-chain", "intact")
    check(page, "audit-intact")

    page.get_by_label("Action").fill("upload")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(11)
    expect(rows.locator("td:nth-child(4)")).to_have_text(["upload"] * 11)
    check(page, "audit-filtered")

    with collector.served.store.engine.begin() as conn:  # someone edits the log behind the collector's back
        seq = conn.execute(text("SELECT min(seq) FROM audit WHERE action = 'upload'")).scalar()
        conn.execute(text("UPDATE audit SET subject = 'someone-else' WHERE seq = :s"), {"s": seq})
    page.get_by_role("button", name="Verify the chain").click()
    alert = page.locator("[data-chain]")
    expect(alert).to_have_attribute("data-chain", "broken")
    expect(alert).to_have_attribute("data-broken-at", str(seq))
    expect(alert).to_contain_text(f"The chain breaks at entry {seq}")
    expect(page.locator(f"tr#entry-{seq}.broken")).to_contain_text("someone-else")
    check(page, "audit-broken")
