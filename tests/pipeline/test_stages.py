"""The pipeline's pure stages, one decision table each."""

from __future__ import annotations

import pytest

from deskscribe.capture.base import RawInput
from deskscribe.context import NoContext
from deskscribe.pipeline.contexts import Contexts
from deskscribe.pipeline.frame_schedule import KEY_FRAME_GAP_NS, TYPING_GAP_NS, FrameScheduler, KeyFrame
from deskscribe.pipeline.gate import Gate
from deskscribe.pipeline.inbox import Inbox, InputBatch, Marker
from deskscribe.pipeline.input_map import InputMapper
from deskscribe.pipeline.titles import TitleCleaner
from deskscribe.policy import parse_policy
from tests.pipeline.scripted import CHAT, TERMINAL, WordScanner

POLICY = parse_policy({"version": "t1", "designated_apps": ["XTerm"]})


def test_the_inbox_drops_and_counts_what_does_not_fit() -> None:
    box = Inbox(limit=3)
    box.offer(InputBatch([]), size=2)
    box.offer(InputBatch([]), size=3)  # 1 queued + 3 > 3: dropped whole
    box.offer(Marker("task_start"))
    assert box.dropped == 3
    assert [type(i).__name__ for i in box.drain()] == ["InputBatch", "Marker"]
    assert box.handled == box.offered == 2


def test_keys_up_to_the_last_enter_take_the_answer_of_the_batch_before() -> None:
    batch = InputBatch([], secret=True, secret_before=False, last_enter=2)
    assert [batch.secret_of(i) for i in range(4)] == [False, False, False, True]


def test_the_gate_is_default_deny_and_excluded_spans_are_measured() -> None:
    gate = Gate(policy=POLICY, contexts=Contexts())
    assert not gate.capturing and not gate.designated(CHAT) and not gate.designated(None)
    assert gate.designated(TERMINAL)
    gate.close(1_000_000_000)
    assert gate.excluding
    gate.open_for(TERMINAL)
    ended = gate.end_exclusion(3_500_000_000)
    assert ended is not None and (ended.start_ns, ended.duration_ms) == (1_000_000_000, 2500)
    assert gate.capturing and gate.app == "XTerm"
    gate.withdrawn = True
    assert not gate.capturing and gate.ignores_focus()


def test_a_secure_title_makes_the_window_a_password_prompt() -> None:
    gate = Gate(policy=POLICY, contexts=Contexts())
    gate.note_window(TERMINAL.__class__(app="XTerm", title="[sudo] password for me", pid=1, geometry=(0, 0, 1, 1)))
    assert gate.secure_window
    gate.note_window(None)
    assert not gate.secure_window


def test_the_input_mapper_stores_a_release_only_if_its_press_was_stored() -> None:
    m = InputMapper()
    up = RawInput(5, 1, 0, 3, 4, 0)
    assert m.button_up(up) is None
    assert m.button_down(RawInput(4, 1, 0, 3, 4, 0)) == {"x": 3, "y": 4, "button": "left", "mods": []}
    assert m.button_up(up) == {"x": 3, "y": 4, "button": "left"}
    m.button_down(RawInput(4, 3, 0, 3, 4, 0))
    m.reset()  # capture closed while the button was held
    assert m.button_up(RawInput(5, 3, 0, 3, 4, 0)) is None
    assert InputMapper.scroll(RawInput(4, 5, 0, 1, 2, 0)) == {"x": 1, "y": 2, "dx": 0, "dy": -1}


def test_key_frames_come_before_a_burst_enter_and_chords_and_never_mid_password() -> None:
    s = FrameScheduler(interval_ns=10**10)
    never = lambda: False  # noqa: E731
    s.new_window()
    assert s.key(5 * TYPING_GAP_NS, special=False, enter=False, password_pending=False,
                 prompt_possible=never) is KeyFrame.NEW_BURST
    s.key_done(5 * TYPING_GAP_NS)
    s.taken(5 * TYPING_GAP_NS)
    t = 5 * TYPING_GAP_NS + KEY_FRAME_GAP_NS
    assert s.key(t, special=True, enter=True, password_pending=False, prompt_possible=never) is KeyFrame.IF_CHANGED
    s.key_done(t)
    assert s.key(t + 1, special=False, enter=False, password_pending=True, prompt_possible=never) is KeyFrame.NONE


def test_the_first_key_after_enter_reads_a_possible_prompt() -> None:
    s = FrameScheduler(interval_ns=10**10)
    asked: list[bool] = []

    def possible() -> bool:
        asked.append(True)
        return True

    assert s.key(1, special=False, enter=False, password_pending=False, prompt_possible=possible) is KeyFrame.PROMPT
    s.key_done(1)
    assert s.key(2, special=False, enter=False, password_pending=False, prompt_possible=possible) is KeyFrame.NONE
    assert len(asked) == 1  # asked only after Enter or a focus change, not for every key


def test_scroll_bursts_get_one_frame_and_screen_versions_are_remembered() -> None:
    s = FrameScheduler(interval_ns=10**10)
    assert s.scroll(10**9) and not s.scroll(10**9 + 1000) and s.scroll(3 * 10**9)
    assert s.changed(1) and not s.changed(1) and s.changed(2)


def test_titles_are_scanned_once_and_findings_handed_on() -> None:
    seen: list[tuple[str, ...]] = []
    cleaner = TitleCleaner(scanner=WordScanner("hunter2"), synthetic=False, on_redacted=lambda v: seen.append(tuple(v)))
    assert cleaner.clean("login hunter2 - xterm") == "login <SECRET> - xterm"
    assert cleaner.clean("login hunter2 - xterm") == "login <SECRET> - xterm"
    assert seen == [("hunter2",)] and cleaner.clean(None) is None


class Says(NoContext):
    def __init__(self, now: bool = False, since: bool = False, prompt: bool = False) -> None:
        self.now, self.since, self.prompt = now, since, prompt

    def secret_now(self, window: object) -> bool:  # type: ignore[override]
        return self.now

    def secret_since(self, mono_ns: int) -> bool:
        return self.since

    def prompt_possible(self, window: object) -> bool:  # type: ignore[override]
        return self.prompt


@pytest.mark.parametrize(("sources", "now", "since", "prompt"), [
    ((), False, False, False),
    ((Says(),), False, False, False),
    ((Says(now=True), Says()), True, False, False),
    ((Says(), Says(since=True)), False, True, False),
    ((Says(prompt=True),), False, False, True),
])
def test_any_source_saying_secret_makes_it_so(sources: tuple[Says, ...], now: bool, since: bool, prompt: bool) -> None:
    c = Contexts(sources=sources)
    assert c.secret_now([TERMINAL, None]) is now
    assert c.secret_since(0) is since
    assert c.prompt_possible(TERMINAL) is prompt
    assert c.prompt_possible(None) is False
