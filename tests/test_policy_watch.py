"""The policy watch against a scripted collector: it ends the session only when the published
policy changed or stopped applying, never because the collector was down or refused."""

from __future__ import annotations

import threading

from deskscribe.client import PolicyAnswer
from deskscribe.errors import CollectorRefused, CollectorUnreachable
from deskscribe.policy import parse_policy
from deskscribe.policy_watch import PolicyWatch

CURRENT = parse_policy({"version": "v1", "designated_apps": ["XTerm"]})


def answer(version: str, enabled: bool = True) -> PolicyAnswer:
    return {"version": version, "region": None, "enabled": enabled, "missing": [] if enabled else ["dpia"],
            "policy": {"version": version, "designated_apps": ["XTerm"]}}


def watching(*answers: PolicyAnswer | Exception | None) -> tuple[PolicyWatch, list[str]]:
    script, changes = list(answers), []

    def fetch() -> PolicyAnswer | None:
        got = script.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    watch = PolicyWatch(fetch=fetch, current=CURRENT, every_s=60, on_change=lambda: changes.append("changed"))
    return watch, changes


def test_the_same_policy_or_no_answer_changes_nothing() -> None:
    watch, changes = watching(answer("v1"), None, CollectorRefused("401", status=401),
                              CollectorUnreachable("down"), answer("v1"))
    assert [watch.check() for _ in range(5)] == [False] * 5
    assert changes == [] and not watch.changed


def test_a_new_version_or_a_policy_no_longer_enabled_here_is_a_change() -> None:
    for published in (answer("v2"), answer("v1", enabled=False)):
        watch, changes = watching(published)
        assert watch.check() is True and watch.changed and changes == ["changed"]


def test_the_watch_asks_on_its_cadence_and_stops_after_a_change() -> None:
    now = [0.0]
    asked = threading.Event()
    answers = [answer("v1"), answer("v2")]

    def fetch() -> PolicyAnswer | None:
        now[0] += 0.01
        got = answers.pop(0)
        if not answers:
            asked.set()
        return got

    changed = threading.Event()
    watch = PolicyWatch(fetch=fetch, current=CURRENT, every_s=0.01, on_change=changed.set,
                        now_s=lambda: now[0])
    watch.start()
    assert changed.wait(5) and asked.is_set()
    watch.stop()
    assert watch.changed and answers == []
