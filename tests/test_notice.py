import dataclasses
from pathlib import Path

from deskscribe.notice import Ledger, notice_version, render_notice
from deskscribe.policy import Policy

POLICY = Policy(version="1", designated_apps=("XTerm", "Mousepad"), excluded_titles=("*password*",),
                screenshot_interval_s=10)


def test_notice_says_what_is_collected_and_that_it_never_evaluates_the_person() -> None:
    text = render_notice(POLICY)
    for needle in ("XTerm", "Mousepad", "*password*", "every 10 s", "keys pressed", "100 ms",
                   "never used to evaluate you", "deskscribe consent withdraw"):
        assert needle in text


def test_any_change_in_collection_is_a_new_notice_version() -> None:
    base = notice_version(POLICY)
    wider = [dataclasses.replace(POLICY, designated_apps=("XTerm", "Mousepad", "Firefox")),
             dataclasses.replace(POLICY, screenshot_interval_s=2),
             dataclasses.replace(POLICY, timing_precision_ms=10),
             dataclasses.replace(POLICY, excluded_titles=())]
    assert all(notice_version(p) != base for p in wider)
    assert notice_version(dataclasses.replace(POLICY, version="2")) == base  # same collection


def test_ledger_follows_accept_and_withdraw(tmp_path: Path) -> None:
    ledger = Ledger(path=tmp_path / "consent.jsonl", clock=lambda: "T")
    assert ledger.state().accepted_version is None
    ledger.append("accept", "n-1")
    assert ledger.state().accepted_version == "n-1"
    ledger.append("withdraw", None)
    assert ledger.state().accepted_version is None and ledger.state().withdrawn
    ledger.append("accept", "n-2")
    with (tmp_path / "consent.jsonl").open("a") as fh:
        fh.write('{"event": "acc')  # torn by a crash
    assert ledger.state().accepted_version == "n-2" and not ledger.state().withdrawn
    assert [e["event"] for e in ledger.entries()] == ["accept", "withdraw", "accept"]
