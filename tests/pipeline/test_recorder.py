"""The pipeline in process: a scripted leaf replays input; what reaches the writer is checked.

The e2e tests run the same pipeline against a real X server; these pin each stage's part in
it (gate, typing, context sources, frames, pause) without one, so a regression names its stage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from deskscribe import events as ev
from deskscribe.capture.base import KEY_PRESS, KEY_RELEASE, WindowInfo
from deskscribe.capture.hotkey import Hotkey
from deskscribe.context import NoContext, Target, VisibleText
from deskscribe.geometry import Rect
from deskscribe.pipeline.recorder import Recorder
from deskscribe.policy import parse_policy
from deskscribe.redact.stage import NoFrames
from tests.pipeline.scripted import (
    CHAT,
    RETURN,
    SHIFT,
    TAB,
    TERMINAL,
    MemoryWriter,
    ScriptedLeaf,
    WordScanner,
    keycode,
)

POLICY = parse_policy({"version": "t1", "designated_apps": ["XTerm"], "excluded_titles": ["*Private*"],
                       "screenshot_interval_s": 3600})


class Desk:
    def __init__(self, leaf: ScriptedLeaf, writer: MemoryWriter, recorder: Recorder) -> None:
        self.leaf, self.writer, self.recorder = leaf, writer, recorder

    def settle(self) -> None:
        """Wait until the pipeline thread has handled everything offered so far."""
        inbox = self.recorder._inbox
        deadline = time.monotonic() + 10
        while inbox.handled < inbox.offered and time.monotonic() < deadline:
            time.sleep(0.001)
        assert inbox.handled == inbox.offered, "the pipeline did not catch up"

    def stop(self) -> MemoryWriter:
        self.recorder.stop()
        return self.writer


def desk(*, contexts: tuple[object, ...] = (), hotkey: Hotkey | None = None,
         kept: tuple[bool, bool] = (True, False)) -> Desk:
    leaf, writer = ScriptedLeaf(kept=kept), MemoryWriter()
    recorder = Recorder(leaf=leaf, writer=writer, policy=POLICY, scanner=WordScanner(),  # type: ignore[arg-type]
                        redactor=NoFrames(), hotkey=hotkey, contexts=contexts,  # type: ignore[arg-type]
                        mono_ns=lambda: leaf.now_ns)
    recorder.start()
    return Desk(leaf, writer, recorder)


@pytest.fixture
def d() -> Iterator[Desk]:
    made = desk()
    yield made
    if made.recorder._thread.is_alive():
        made.recorder.stop()


def test_a_designated_window_records_keys_clicks_and_a_frame_before_each_action(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.leaf.click(10, 10)
    d.leaf.type("ls")
    d.leaf.key(RETURN)
    w = d.stop()
    assert w.typed() == "ls<enter>"
    assert [e.data["app"] for e in w.events if e.kind == ev.FOCUS] == ["XTerm"]
    downs = [e for e in w.events if e.kind == ev.MOUSE_DOWN]
    assert [(e.data["x"], e.data["y"], e.data["button"]) for e in downs] == [(10, 10, "left")]
    reasons = [e.data["reason"] for e in w.events if e.kind == ev.FRAME]
    assert reasons[0] == "pre_action" and len(reasons) >= 2
    assert w.markers()[0] == "start" and w.markers()[-1] == "stop"


def test_no_frame_is_cut_before_a_revealed_window_s_pixels_are_read(d: Desk) -> None:
    d.leaf.screen.whole_since_ms = None  # the terminal was just revealed; its pixels are unread
    d.leaf.focus(TERMINAL)
    d.leaf.click(10, 10)
    d.settle()
    assert not d.recorder.stats.kept_visible
    d.leaf.screen.whole_since_ms = 0  # read, but at the click's own moment: after the action
    d.leaf.type("l")
    d.settle()
    d.leaf.screen.whole_since_ms = -1  # read before the next key
    d.leaf.type("s")
    w = d.stop()
    assert w.typed() == "ls"
    frames = [e for e in w.events if e.kind == ev.FRAME]
    assert frames and frames[0].t_ns > next(e.t_ns for e in w.events if e.kind == ev.KEY_DOWN)
    assert d.recorder.stats.kept_visible


def test_a_non_designated_window_leaves_one_excluded_marker_and_nothing_else(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.leaf.focus(CHAT)
    d.leaf.type("dear friend")
    d.leaf.click(150, 50)
    d.leaf.focus(TERMINAL)
    w = d.stop()
    assert w.typed() == ""
    assert not any(e.kind == ev.MOUSE_DOWN for e in w.events)
    assert not any("inbox" in str(e.data) for e in w.events)
    excluded = [e for e in w.events if e.kind == ev.MARKER and e.data["marker"] == "excluded"]
    assert len(excluded) == 1 and excluded[0].data["duration_ms"] > 0
    assert d.recorder.stats.inputs_excluded == 2 * len("dear friend") + 3


def test_pointer_input_over_a_non_designated_window_is_not_stored(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.leaf.click(150, 50)  # over the chat window beside the terminal
    w = d.stop()
    assert not any(e.kind in (ev.MOUSE_DOWN, ev.MOUSE_MOVE, ev.MOUSE_UP) for e in w.events)


def test_a_burst_with_a_finding_becomes_one_text_event_without_keys(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.leaf.type("pw hunter2")
    d.leaf.key(RETURN)
    w = d.stop()
    assert "hunter2" not in repr(w.events)
    texts = [e for e in w.events if e.kind == ev.TEXT]
    assert len(texts) == 1 and texts[0].data["text"] == "pw <SECRET>"
    assert w.typed() == "<enter>"
    assert d.recorder.stats.bursts_redacted == 1


class EchoOff(NoContext):
    """A terminal reading a password: every key typed into it now is a secret."""

    def __init__(self) -> None:
        self.asked: list[int | None] = []

    def secret_now(self, window: WindowInfo) -> bool:
        self.asked.append(window.pid)
        return True


class PasswordFieldFocused(NoContext):
    def secret_since(self, mono_ns: int) -> bool:
        return True


@pytest.mark.parametrize("source", [EchoOff(), PasswordFieldFocused()], ids=["secret_now", "secret_since"])
def test_a_context_source_that_sees_a_secret_makes_the_burst_a_password(source: NoContext) -> None:
    made = desk(contexts=(source,))
    made.leaf.focus(TERMINAL)
    made.settle()  # the echo check is asked on arrival, once capture is open
    made.leaf.type("correct horse")
    made.leaf.key(RETURN)
    w = made.stop()
    assert "horse" not in repr(w.events)
    assert [e.data["text"] for e in w.events if e.kind == ev.TEXT] == ["<PASSWORD>"]
    if isinstance(source, EchoOff):
        assert set(source.asked) == {TERMINAL.pid}  # asked about the focused window only


def test_context_sources_are_not_asked_while_capture_is_closed() -> None:
    source = EchoOff()
    made = desk(contexts=(source,))
    made.leaf.focus(CHAT)
    made.leaf.type("abc")
    made.stop()
    assert source.asked == []


def test_a_window_retitling_itself_does_not_split_the_burst(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.leaf.type("quar")
    d.leaf.focus(WindowInfo(app="XTerm", title="* xterm", pid=101, geometry=TERMINAL.geometry, window=1))
    d.leaf.type("terly")
    d.leaf.key(RETURN)
    w = d.stop()
    assert w.typed() == "quarterly<enter>"
    kinds = [e.kind for e in w.events if e.kind in (ev.FOCUS, ev.KEY_DOWN)]
    assert kinds.index(ev.FOCUS, 1) > kinds.index(ev.KEY_DOWN)  # the new title stored behind the burst


def test_an_excluded_title_closes_capture_even_in_a_designated_app(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.leaf.focus(WindowInfo(app="XTerm", title="Private notes", pid=303, geometry=TERMINAL.geometry, window=3))
    d.leaf.type("diary")
    w = d.stop()
    assert w.typed() == "" and "Private" not in repr(w.events)


def test_pause_stores_nothing_not_even_focus_until_resume(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.recorder.pause()
    d.leaf.advance(20)
    d.leaf.focus(CHAT)
    d.leaf.focus(TERMINAL)
    d.leaf.type("secret plans")
    d.recorder.resume()
    d.leaf.advance(20)
    d.leaf.type("ok")
    w = d.stop()
    assert w.typed() == "ok"
    assert [e.data["app"] for e in w.events if e.kind == ev.FOCUS] == ["XTerm", "XTerm"]
    assert "pause" in w.markers() and "resume" in w.markers()
    assert d.recorder.stats.inputs_paused == 2 * len("secret plans")


def test_the_pause_hotkey_toggles_capture_and_is_not_recorded() -> None:
    made = desk(hotkey=Hotkey.parse("shift+p"))
    made.leaf.focus(TERMINAL)
    made.leaf.send((KEY_PRESS, SHIFT, 0, 0), (KEY_PRESS, keycode("p"), 0, 0),
                   (KEY_RELEASE, keycode("p"), 0, 0), (KEY_RELEASE, SHIFT, 0, 0))
    made.leaf.type("hidden")
    w = made.stop()
    assert "pause" in w.markers()
    assert "hidden" not in w.typed() and "p" not in w.typed()


def test_after_withdrawal_nothing_more_is_captured(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.recorder.withdraw()
    d.leaf.advance(20)
    d.leaf.type("after")
    d.leaf.click(10, 10)
    w = d.stop()
    assert d.recorder.withdrawn
    assert w.typed() == "" and not any(e.kind == ev.MOUSE_DOWN for e in w.events)
    assert "withdraw" in w.markers()


def test_a_cover_over_every_designated_window_closes_capture() -> None:
    made = desk()
    made.leaf.focus(TERMINAL)
    made.leaf.type("a")
    made.leaf.advance(1000)  # keys just before a focus change may have gone to the new window
    made.settle()
    made.leaf.kept = (False, False)  # a lock screen: no designated pixel is visible
    made.leaf.type("locked")
    made.settle()
    made.leaf.kept = (True, False)
    made.leaf.type("b")
    w = made.stop()
    assert w.typed() == "ab"
    assert "excluded" in w.markers()


def test_designated_pixels_laid_out_later_open_capture_without_waiting_for_input() -> None:
    made = desk(kept=(False, False))  # as a browser whose page area is not laid out yet
    made.leaf.focus(TERMINAL)
    made.leaf.type("x")
    made.settle()
    assert made.recorder.stats.recording_app is None and not made.recorder.stats.kept_visible
    made.leaf.kept = (True, False)
    assert made.leaf.on_layout is not None
    made.leaf.on_layout(made.leaf.advance())
    made.settle()
    assert made.recorder.stats.recording_app == "XTerm" and made.recorder.stats.kept_visible
    made.leaf.kept = (False, False)  # and gone again: closed with no input either
    made.leaf.on_layout(made.leaf.advance())
    made.settle()
    assert made.recorder.stats.recording_app is None
    w = made.stop()
    assert w.typed() == "" and [e.kind for e in w.events].count(ev.FOCUS) == 2  # at focus, at lay-out


def test_tab_ends_the_field_so_the_next_burst_is_scanned_alone(d: Desk) -> None:
    d.leaf.focus(TERMINAL)
    d.leaf.type("hunt")
    d.leaf.key(TAB)
    d.leaf.type("er2")
    d.leaf.key(RETURN)
    w = d.stop()
    assert not any(e.kind == ev.TEXT for e in w.events)  # neither field holds the word alone
    assert w.typed() == "hunt<tab>er2<enter>"


SITES = parse_policy({"version": "t2", "designated_apps": ["XTerm"], "screenshot_interval_s": 3600,
                      "designated_sites": ["http://127.0.0.1:8001/*"]})
BROWSER = WindowInfo(app="Chromium", title="Admin - Chromium", pid=303, geometry=(0, 0, 100, 100), window=3)


class Vouches(NoContext):
    """A browser source whose answer the test sets."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.describes = True

    def designated_page(self, window: WindowInfo) -> str | None:
        return self.url if window.app == "Chromium" else None

    def covers(self, window: WindowInfo) -> bool:
        return window.app == "Chromium"

    def visible_text(self, window: WindowInfo, mono_ns: int) -> VisibleText | None:
        return VisibleText(region=Rect(0, 20, 100, 80), opaque=()) if self.describes else None


def browser_desk(source: Vouches) -> Desk:
    leaf, writer = ScriptedLeaf(), MemoryWriter()
    recorder = Recorder(leaf=leaf, writer=writer, policy=SITES, scanner=WordScanner(),  # type: ignore[arg-type]
                        redactor=NoFrames(), contexts=(source,), mono_ns=lambda: leaf.now_ns)  # type: ignore[arg-type]
    recorder.start()
    return Desk(leaf, writer, recorder)


def test_a_browser_is_recorded_only_while_a_source_vouches_for_a_designated_page() -> None:
    source = Vouches()
    made = browser_desk(source)
    made.leaf.focus(BROWSER)
    made.leaf.type("mail")  # no page vouched for: the browser is like any other app
    made.settle()
    source.url = "http://127.0.0.1:8001/admin/"
    made.recorder.context_changed()
    made.leaf.advance(20)
    made.leaf.type("ok")
    made.settle()
    source.url = None  # a tab switch to another site
    made.recorder.context_changed()
    made.leaf.advance(20)
    made.leaf.type("bank")
    w = made.stop()
    assert w.typed() == "ok"
    focus = [e.data for e in w.events if e.kind == ev.FOCUS]
    assert [(f["app"], f["url"]) for f in focus] == [("Chromium", "http://127.0.0.1:8001/admin/")]
    assert w.markers().count("excluded") == 2
    finals = [e for e in w.events if e.kind == ev.FRAME and e.data["reason"] == "final"]
    assert finals == []  # leaving because the page changed: the screen may already show the other site


def clicked_on_the_admin_page(source: Vouches) -> Desk:
    """A vouched designated page in front, clicked once, the pipeline caught up."""
    source.url = "http://127.0.0.1:8001/admin/"
    made = browser_desk(source)
    made.leaf.focus(BROWSER)
    made.leaf.click(10, 50)
    made.settle()
    return made


def test_a_frame_a_covering_source_cannot_describe_is_not_kept() -> None:
    source = Vouches()
    made = clicked_on_the_admin_page(source)
    source.describes = False
    made.leaf.advance(2000)
    made.leaf.click(10, 50)
    w = made.stop()
    assert len([e for e in w.events if e.kind == ev.MOUSE_DOWN]) == 2
    assert len([e for e in w.events if e.kind == ev.FRAME]) == 1
    assert made.recorder.stats.frames_unanswered >= 1


class Aims(Vouches):
    """A vouching source that saw the element under each click."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Target] = []

    def take_targets(self, window: WindowInfo) -> tuple[Target, ...]:
        taken, self.pending = tuple(self.pending), []
        return taken


def aimed(name: str, at_ns: int) -> Target:
    return Target(mono_ns=at_ns, source="browser", event="pointerdown", role="button", name=name,
                  bbox=Rect(5, 45, 20, 10), tag="button", selector=f"#{name}", states=("focused",))


def test_targets_are_written_cleaned_and_only_while_the_page_is_recorded() -> None:
    source = Aims()
    source.url = "http://127.0.0.1:8001/admin/"
    made = browser_desk(source)
    made.leaf.focus(BROWSER)
    made.leaf.click(10, 50)
    source.pending.append(aimed("send hunter2", made.leaf.now_ns))
    made.leaf.advance(20)
    made.leaf.click(10, 50)  # the next batch's tick takes the target
    made.settle()
    source.url = None  # another site: what it reports now is dropped, never written later
    made.recorder.context_changed()
    made.settle()
    source.pending.append(aimed("bank", made.leaf.now_ns))
    made.leaf.advance(20)
    made.leaf.click(10, 50)
    w = made.stop()
    targets = [e for e in w.events if e.kind == ev.TARGET]
    assert [t.data["name"] for t in targets] == ["send <SECRET>"]
    assert targets[0].data["selector"] == "#send <SECRET>" and targets[0].data["bbox"] == [5, 45, 20, 10]
    assert "hunter2" not in repr(w.events) and "bank" not in repr(w.events)
    for e in targets:
        ev.validate(e)


class MaskedFocused(NoContext):
    """A page element under a site mask has focus."""

    def masked_since(self, mono_ns: int) -> bool:
        return True


def test_typing_into_a_masked_element_is_one_masked_placeholder() -> None:
    made = desk(contexts=(MaskedFocused(),))
    made.leaf.focus(TERMINAL)
    made.leaf.type("dear colleague")
    made.leaf.key(RETURN)
    w = made.stop()
    assert "colleague" not in repr(w.events)
    texts = [e.data for e in w.events if e.kind == ev.TEXT]
    assert [(t["text"], t["kinds"], t["secure"]) for t in texts] == [("<MASKED>", ["MASKED"], True)]


def test_a_target_after_the_last_input_is_written_while_the_page_is_recorded() -> None:
    source = Aims()
    made = clicked_on_the_admin_page(source)
    source.pending.append(aimed("option", made.leaf.now_ns))  # a select's choice, made with no input
    made.recorder.targets_arrived()
    deadline = time.monotonic() + 5
    while source.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not source.pending, "the pipeline waited for input to take the target"
    w = made.stop()
    assert [e.data["name"] for e in w.events if e.kind == ev.TARGET] == ["option"]


def test_a_cover_laid_out_keeps_the_keys_typed_before_it_and_none_after() -> None:
    made = desk()
    made.leaf.focus(TERMINAL)
    made.leaf.type("abc")  # typed to the terminal just before the lock screen mapped
    made.settle()
    made.leaf.kept = (False, False)
    assert made.leaf.on_layout is not None
    made.leaf.on_layout(made.leaf.advance(10))
    made.settle()
    made.leaf.type("locked")  # into the lock screen, though the terminal keeps focus
    w = made.stop()
    assert w.typed() == "abc"
    assert "excluded" in w.markers() and "locked" not in repr(w.events)
