"""The browser context source: what makes a browser window designated, and what never does."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from deskscribe.browser.source import FRESH_NS, BrowserSource
from deskscribe.capture.base import WindowInfo
from deskscribe.policy import parse_policy
from deskscribe.redact.text import TextScanner

POLICY = parse_policy({"version": "b1", "designated_apps": ["XTerm"],
                       "designated_sites": ["http://127.0.0.1:8001/*"],
                       "excluded_urls": ["http://127.0.0.1:8001/private/*"],
                       "site_masks": [{"url": "http://127.0.0.1:8001/*", "selectors": [".body"]}]})
BROWSER = WindowInfo(app="Chromium", title="Site admin - Chromium", pid=7, geometry=(0, 0, 1000, 700), window=9)
CLOSED = object()


class FakeChannel:
    def __init__(self) -> None:
        self.inbound: queue.Queue[Any] = queue.Queue()
        self.sent: list[dict[str, Any]] = []
        self.reply_to_snapshot: dict[str, Any] | None = None

    def receive(self) -> Iterator[dict[str, Any]]:
        while (m := self.inbound.get()) is not CLOSED:
            yield m

    def send(self, message: dict[str, Any]) -> bool:
        self.sent.append(message)
        if message["type"] == "snapshot" and self.reply_to_snapshot is not None:
            self.inbound.put({**self.reply_to_snapshot, "request": message["request"]})
        return True


class Clock:
    def __init__(self) -> None:
        self.ns = 10**12

    def __call__(self) -> int:
        return self.ns


@pytest.fixture(scope="module")
def scanner() -> TextScanner:
    return TextScanner()


class Connected:
    def __init__(self, scanner: TextScanner) -> None:
        self.clock, self.changes = Clock(), 0
        self.source = BrowserSource(policy=POLICY, scanner=scanner, mono_ns=self.clock,
                                    on_change=self._changed, expiry_check_s=3600)  # expire() is called here
        self.channel = FakeChannel()
        self._thread = threading.Thread(target=self.source.attach, args=(self.channel,), daemon=True)
        self._thread.start()
        while not self.channel.sent:  # the policy goes out first
            threading.Event().wait(0.001)

    def _changed(self) -> None:
        self.changes += 1

    def report(self, **fields: Any) -> None:
        msg = {"v": 1, "type": "window", "seq": 1, "window_id": 1, "focused": True, "incognito": False,
               "bounds": [0, 0, 1000, 700], "designated": True, "tab_id": 3,
               "url": "http://127.0.0.1:8001/admin/?q=secret#x", "title": "Site admin",
               "viewport": {"x": 0, "y": 80, "width": 1000, "height": 620, "dpr": 1, "zoom": 1}}
        msg.update(fields)
        self.settle(msg)

    def settle(self, msg: dict[str, Any]) -> None:
        done = threading.Event()
        self.channel.inbound.put(msg)
        self.channel.inbound.put({"v": 1, "type": "ping"})
        while not any(m["type"] == "pong" for m in self.channel.sent):
            done.wait(0.001)
        self.channel.sent = [m for m in self.channel.sent if m["type"] != "pong"]

    def close(self) -> None:
        self.channel.inbound.put(CLOSED)
        self._thread.join(timeout=5)
        self.source.stop()


@pytest.fixture
def c(scanner: TextScanner) -> Iterator[Connected]:
    conn = Connected(scanner)
    yield conn
    conn.close()


def test_the_extension_is_told_the_policy_first(c: Connected) -> None:
    config = c.channel.sent[0]
    assert config["type"] == "config" and config["designated_sites"] == ["http://127.0.0.1:8001/*"]
    assert config["site_masks"] == [{"url": "http://127.0.0.1:8001/*", "selectors": [".body"]}]


def test_a_vouched_designated_page_is_designated_without_its_query(c: Connected) -> None:
    c.report()
    assert c.source.designated_page(BROWSER) == "http://127.0.0.1:8001/admin/"
    area = c.source.page_area(BROWSER)
    assert area is not None and (area.y, area.height) == (80, 620)  # the browser's chrome is not kept
    assert c.changes == 1


@pytest.mark.parametrize(("fields", "why"), [
    ({"incognito": True}, "a private window"),
    ({"designated": False, "url": None}, "the extension says not designated"),
    ({"url": "http://127.0.0.1:8002/"}, "the extension's claim is checked against the policy"),
    ({"url": "http://127.0.0.1:8001/private/diary"}, "an excluded URL"),
    ({"focused": False}, "the browser says another window has focus"),
    ({"bounds": [500, 400, 300, 200]}, "a report about another window"),
    ({"v": 2}, "another protocol version"),
    ({"url": "javascript:alert(1)"}, "not a web page"),
])
def test_what_never_designates_a_browser_window(c: Connected, fields: dict[str, Any], why: str) -> None:
    c.report(**fields)
    assert c.source.designated_page(BROWSER) is None, why
    assert c.source.page_area(BROWSER) is None, why


def test_a_window_already_showing_another_tab_is_not_vouched_for_by_the_last_report(c: Connected) -> None:
    c.report()
    switched = WindowInfo(app="Chromium", title="My bank - Chromium", pid=7, geometry=(0, 0, 1000, 700), window=9)
    assert c.source.designated_page(switched) is None and c.source.page_area(switched) is None
    spaced = WindowInfo(app="Chromium", title="Site  admin - Chromium", pid=7, geometry=(0, 0, 1000, 700), window=9)
    assert c.source.designated_page(spaced) is not None  # the same title, spaced another way
    c.report(title="My bank")  # the report catching up with the window's new name is announced
    assert c.changes == 2 and c.source.designated_page(switched) is not None


def test_other_apps_and_stale_reports_are_not_vouched_for(c: Connected) -> None:
    c.report()
    terminal = WindowInfo(app="XTerm", title="x", pid=1, geometry=(0, 0, 1000, 700), window=2)
    assert c.source.designated_page(terminal) is None
    c.clock.ns += FRESH_NS + 1  # the heartbeat stopped: the extension may be gone
    assert c.source.designated_page(BROWSER) is None


def test_a_viewport_arriving_or_moving_is_announced_so_the_page_area_is_laid_out_again(c: Connected) -> None:
    c.report(viewport=None)  # the page had not measured itself yet: designated, nothing to keep
    assert c.changes == 1 and c.source.page_area(BROWSER) is None
    c.report()
    area = c.source.page_area(BROWSER)
    assert c.changes == 2 and area is not None and area.y == 80
    c.report()  # a heartbeat with nothing new
    c.report(viewport={"x": 0, "y": 120, "width": 1000, "height": 580, "dpr": 1, "zoom": 1})
    area = c.source.page_area(BROWSER)
    assert c.changes == 3 and area is not None and area.y == 120


def test_a_report_going_stale_is_announced_once_and_its_return_again(c: Connected) -> None:
    c.report()
    assert not c.source.expire() and c.changes == 1  # fresh
    c.clock.ns += FRESH_NS + 1  # connected, but the extension stopped reporting
    assert c.source.expire() and c.changes == 2 and c.source.designated_page(BROWSER) is None
    assert not c.source.expire() and c.changes == 2
    c.report()  # the same page again: the gate must open again
    assert c.changes == 3 and c.source.designated_page(BROWSER) is not None


def test_a_switch_to_a_non_designated_tab_is_announced_and_ends_vouching(c: Connected) -> None:
    c.report()
    c.report(designated=False, url=None, title=None)
    assert c.changes == 2 and c.source.designated_page(BROWSER) is None


def test_malformed_messages_are_dropped_and_counted(c: Connected) -> None:
    for bad in ({"type": "window"}, {"v": 1, "type": "window", "window_id": "x", "focused": True},
                {"v": 1, "type": "nonsense"}, {"v": 1, "type": "target", "event": "pointerdown", "target": 5},
                {"v": 1, "type": "window", "window_id": 1, "focused": True, "designated": True, "url": 7}):
        c.settle(bad)
    assert c.source.dropped == 5
    assert c.source.designated_page(BROWSER) is None


def test_a_sensitive_field_in_focus_makes_typing_secret(c: Connected) -> None:
    c.report()
    assert not c.source.secret_now(BROWSER)
    c.settle({"v": 1, "type": "target", "event": "focus", "t_ms": 1.0, "window_id": 1, "target": {
        "tag": "input", "role": "textbox", "name": "Password", "type": "password", "bbox": [1, 2, 3, 4],
        "selector": "#id_password", "sensitive": "password", "masked": False, "states": ["focused"]}})
    assert c.source.secret_now(BROWSER) and c.source.secret_since(0)


def test_the_page_describes_its_text_and_findings_become_boxes(c: Connected) -> None:
    c.report()
    c.channel.reply_to_snapshot = {"v": 1, "type": "text", "runs": [
        {"text": "Contact jane.doe@example.com today", "words": [
            [0, 7, 10, 100, 60, 14], [8, 28, 75, 100, 180, 14], [29, 34, 260, 100, 40, 14]]}],
        "masks": [[0, 300, 1000, 100]], "opaque": [[600, 120, 200, 100]], "truncated": False}
    text = c.source.visible_text(BROWSER)
    assert text is not None
    assert [(b.x, b.width) for b in text.boxes] == [(73, 184)]  # the address only, padded
    assert [(m.x, m.y, m.width, m.height) for m in text.masks] == [(0, 300, 1000, 100)]
    assert text.opaque is not None and len(text.opaque) == 1


def test_no_answer_or_a_truncated_one_never_skips_ocr(c: Connected) -> None:
    c.report()
    assert c.source.page(BROWSER, timeout_s=0.05) is None  # silent extension: the frame is dropped
    c.channel.reply_to_snapshot = {"v": 1, "type": "text", "runs": [], "masks": [], "opaque": [],
                                   "truncated": True}
    text = c.source.visible_text(BROWSER)
    assert text is not None and text.opaque is None  # OCR reads the whole page
    c.channel.reply_to_snapshot = {"v": 1, "type": "text", "designated": False}
    assert c.source.visible_text(BROWSER) is None


def test_a_disconnected_extension_vouches_for_nothing(scanner: TextScanner) -> None:
    conn = Connected(scanner)
    conn.report()
    conn.close()
    assert conn.source.designated_page(BROWSER) is None and conn.source.connected == 0


def target(event: str = "pointerdown", window_id: int = 1, **fields: Any) -> dict[str, Any]:
    t = {"tag": "button", "role": "button", "name": "Save", "type": None, "bbox": [100.4, 200, 80, 30],
         "selector": "#save", "sensitive": None, "masked": False, "states": []}
    t.update(fields)
    return {"v": 1, "type": "target", "event": event, "t_ms": 0.0, "window_id": window_id, "target": t}


def test_targets_of_the_vouched_window_are_taken_once(c: Connected) -> None:
    c.report()
    c.settle(target())
    c.settle(target(window_id=2))  # another browser window's element
    taken = c.source.take_targets(BROWSER)
    assert [(t.name, t.selector, t.source) for t in taken] == [("Save", "#save", "browser")]
    assert (taken[0].bbox.x, taken[0].bbox.y, taken[0].bbox.width) == (100, 200, 80)  # type: ignore[union-attr]
    assert c.source.take_targets(BROWSER) == ()


def test_targets_are_dropped_when_the_window_is_not_vouched(c: Connected) -> None:
    c.report()
    c.settle(target())
    c.report(designated=False, url=None, title=None)
    assert c.source.take_targets(BROWSER) == ()
    c.report()
    assert c.source.take_targets(BROWSER) == ()  # not kept for later


def test_a_chosen_option_is_kept_only_for_an_unmasked_select(c: Connected) -> None:
    c.report()
    c.settle({**target("change", tag="select", role="combobox", name="Country"), "value": "Norway"})
    c.settle({**target("change", tag="select", name="", masked=True), "value": "Secret"})
    c.settle({**target("change", tag="input", name="Note"), "value": "typed text"})
    assert [t.value for t in c.source.take_targets(BROWSER)] == ["Norway", None, None]


def test_a_masked_element_in_focus_makes_typing_masked_not_a_password(c: Connected) -> None:
    c.report()
    c.settle(target("focus", tag="textarea", role="textbox", name="", masked=True))
    assert c.source.masked_since(0) and not c.source.secret_since(0)
