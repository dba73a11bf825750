"""Anonymised fleet statistics: a cell with fewer than 10 people never appears, one person's
week moves the table by a bounded amount, OpenDP's noise is there, and a released week is drawn
once. Over HTTP against SQLite and PostgreSQL with sessions uploaded by real clients."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from deskscribe.client import CollectorClient
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.fleet_stats import (
    Cell,
    FleetStatistics,
    SessionOpener,
    actions_in,
    bounded,
    iso_week,
    laplace,
    release_week,
    week_end_ns,
)
from deskscribe.collector.policies import Policies
from deskscribe.collector.retention import sweep
from deskscribe.collector.roles import Device
from deskscribe.collector.schema import session_weeks
from deskscribe.datadir import DataDir
from deskscribe.errors import PolicyError
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.notice import render_notice
from deskscribe.policy import FleetStatsPolicy, Retention, parse_policy
from deskscribe.store import SessionReader
from deskscribe.upload import Uploader
from tests.collector.test_datasets import Person, people
from tests.support import Served, enrol

EXACT = FleetStatsPolicy(epsilon=1.0, max_actions_per_person=100)
WEEK = "2026-W10"


def no_noise(value: float, scale: float) -> float:
    return value


def crowd(n: int, cell: Cell = ("XTerm", "click"), each: int = 3) -> dict[str, dict[Cell, int]]:
    return {f"p{i}": {cell: each} for i in range(n)}


@pytest.mark.parametrize(("n", "shown"), [(9, False), (10, True), (25, True)])
def test_a_cell_appears_only_with_ten_people_in_it(n: int, shown: bool) -> None:
    out = release_week(WEEK, crowd(n), policy=EXACT, min_people=10, noise=no_noise)
    assert bool(out) is shown
    if shown:
        assert out[0].count == 3 * n and (out[0].app, out[0].action) == ("XTerm", "click")


def test_nine_people_in_one_cell_stay_hidden_beside_a_crowded_cell() -> None:
    people_ = crowd(12, ("Mousepad", "type"))
    for i in range(9):
        people_[f"p{i}"] = {**people_[f"p{i}"], ("secret.example", "click"): 50}
    out = release_week(WEEK, people_, policy=EXACT, min_people=10, noise=no_noise)
    assert [(c.app, c.action) for c in out] == [("Mousepad", "type")]


def test_one_persons_week_counts_at_most_the_bound() -> None:
    heavy = {("XTerm", "type"): 9000, ("XTerm", "click"): 1000}
    w = bounded(heavy, 100)
    assert sum(w.values()) == pytest.approx(100)
    assert w[("XTerm", "type")] == pytest.approx(90)  # proportions kept
    people_ = crowd(10, ("XTerm", "type"), each=1)
    base = release_week(WEEK, people_, policy=EXACT, min_people=10, noise=no_noise)[0].count
    people_["p0"] = heavy
    grown = release_week(WEEK, people_, policy=EXACT, min_people=10, noise=no_noise)[0].count
    assert grown - base <= EXACT.max_actions_per_person


def test_noise_is_laplace_at_bound_over_epsilon() -> None:
    scale = 50.0
    draws = [laplace(1000.0, scale) - 1000.0 for _ in range(4000)]
    assert abs(statistics.fmean(draws)) < 0.2 * scale
    mad = statistics.fmean(abs(d) for d in draws)  # E|Laplace(b)| = b
    assert 0.85 * scale < mad < 1.15 * scale
    assert len({round(d, 6) for d in draws}) > 3900  # not a constant offset


def test_released_counts_carry_noise() -> None:
    seen = {release_week(WEEK, crowd(10), policy=FleetStatsPolicy(epsilon=0.5, max_actions_per_person=100),
                         min_people=10)[0].count for _ in range(20)}
    assert len(seen) > 5


def test_weeks_are_iso_weeks_in_utc() -> None:
    monday = 1_772_409_600 * 10**9  # 2026-03-02 00:00 UTC, a Monday
    assert iso_week(monday) == "2026-W10" and iso_week(monday - 1) == "2026-W09"
    assert week_end_ns("2026-W10") == monday + 7 * 86400 * 10**9


def test_policy_announces_fleet_statistics_only_when_it_makes_them() -> None:
    plain = parse_policy({"designated_apps": ["XTerm"]})
    assert plain.fleet_stats is None and "Fleet statistics" not in render_notice(plain)
    made = parse_policy({"designated_apps": ["XTerm"], "fleet_stats": {"epsilon": 0.5}})
    assert made.fleet_stats == FleetStatsPolicy(epsilon=0.5, max_actions_per_person=500)
    text = " ".join(render_notice(made).split())
    assert "epsilon 0.5 per week" in text and "at least 10 people" in text and "at most 500 of your actions" in text


@pytest.mark.parametrize(("table", "needle"), [({"epsilon": 0}, "epsilon"), ({"epsilon": 50}, "epsilon"),
                                               ({"max_actions_per_person": 0}, "max_actions_per_person"),
                                               ({"epsilon": 1, "epsilonn": 2}, "epsilonn"), (3, "[fleet_stats]")])
def test_bad_fleet_stats_settings_are_refused(table: object, needle: str) -> None:
    with pytest.raises(PolicyError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_policy({"designated_apps": ["XTerm"], "fleet_stats": table})


def test_action_counts_skip_episode_ends_and_prefer_the_site() -> None:
    from deskscribe.dataset.actions import Action
    from deskscribe.dataset.episodes import Episode, Step

    def step(kind: str, focus: dict[str, object]) -> Step:
        return Step(action=Action(type=kind, t_ns=0, t_end_ns=0, fields={}, event_ids=()), frame_id=None,
                    focus=focus, t_ms=0)

    ep = Episode(index=0, instruction="", status="success", steps=[
        step("click", {"app": "chromium", "url": "https://crm.example.com/a?q=1"}),
        step("type", {"app": "XTerm"}), step("terminate", {"app": "XTerm"})])
    assert actions_in([ep]) == Counter({("crm.example.com", "click"): 1, ("XTerm", "type"): 1})


# -- over HTTP --------------------------------------------------------------------------------

STATS_POLICY = 'version = "s1"\ndesignated_apps = ["XTerm"]\n[fleet_stats]\nepsilon = 1.0\nmax_actions_per_person = 500\n'


def publish(served: Served, steward: str, toml: str) -> None:
    with served.client(steward) as c:
        assert c.post("/v1/admin/policies", json={"toml": toml}).status_code == 201


def stats(served: Served, token: str) -> tuple[int, dict[str, object]]:
    with served.client(token) as c:
        r = c.get("/v1/stats")
    return r.status_code, r.json()


def test_stewards_see_weekly_cells_of_ten_people_drawn_once(served: Served, tmp_path: Path) -> None:
    steward = enrol(served, "steward")["token"]
    crowd_ = people(served, tmp_path, 10)
    for p in crowd_:
        p.deposit_key(served)
    publish(served, steward, STATS_POLICY)
    status, body = stats(served, steward)
    assert status == 200, body
    cells = {(c["week"], c["app"], c["action"]): c["count"] for c in body["cells"]}  # type: ignore[attr-defined]
    week = iso_week(1_700_000_000 * 10**9)  # when the sessions were recorded
    assert {k[2] for k in cells if k[:2] == (week, "XTerm")} >= {"click", "type"}
    assert body["min_people"] == 10
    assert stats(served, steward)[1] == body  # released once: asking again shows the same noise
    for role in ("ml_engineer", "auditor", "contributor"):
        assert stats(served, enrol(served, role)["token"])[0] == 403
    auditor = enrol(served, "auditor")["token"]
    with served.client(auditor) as c:
        actions = [e["action"] for e in c.get("/v1/audit").json()["entries"]]
    assert actions.count("fleet_stats_release") == 1


def test_nine_people_give_no_cell(served: Served, tmp_path: Path) -> None:
    steward = enrol(served, "steward")["token"]
    for p in people(served, tmp_path, 9):
        p.deposit_key(served)
    publish(served, steward, STATS_POLICY)
    status, body = stats(served, steward)
    assert status == 200 and body["cells"] == []


def test_without_fleet_stats_in_the_policy_nothing_is_released(served: Served, tmp_path: Path) -> None:
    steward = enrol(served, "steward")["token"]
    publish(served, steward, 'version = "p"\ndesignated_apps = ["XTerm"]\n')
    status, body = stats(served, steward)
    assert status == 409 and "[fleet_stats]" in str(body["detail"])


def test_the_stewards_shell_refuses_in_one_line_then_shows_cells(tmp_path: Path, env: dict[str, str]) -> None:
    from tests.support import Collector, cli

    server = Collector(tmp_path, env).start()
    admin = ["--db", server.db, "--blobs", str(server.blobs)]
    try:
        refused = cli("admin", "stats", *admin, env=env, check=False)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "[fleet_stats]" in refused.stderr
        (tmp_path / "policy.toml").write_text(STATS_POLICY)
        cli("admin", "policy", "publish", str(tmp_path / "policy.toml"), *admin, env=env)
        assert json.loads(cli("admin", "stats", "--json", *admin, env=env).stdout) == []
        assert "at least 10 contributors" in cli("admin", "stats", *admin, env=env).stdout
    finally:
        server.kill()


# -- each session's week, learnt once ----------------------------------------------------------

STEWARD = Device("steward-device", "", "steward")


@dataclass
class Counted:
    """The sessions a build could read, with every one opened noted."""

    inner: SessionOpener
    opened: list[str]

    @property
    def owners(self) -> dict[str, str]:
        return self.inner.owners

    def __call__(self, session_id: str) -> SessionReader:
        self.opened.append(session_id)
        return self.inner(session_id)


@dataclass
class CountingBuilds:
    builds: DatasetBuilds
    opened: list[str] = field(default_factory=list)

    @contextmanager
    def readable(self) -> Iterator[SessionOpener]:
        with self.builds.readable() as opener:
            yield Counted(opener, self.opened)


def recorded_now(served: Served, person: Person) -> str:
    """A session of this week (not ended, so not released), uploaded by ``person``."""
    dd: DataDir = person.dd
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=time.time_ns(),
                              os="Linux", monitors=(Monitor(0, 0, 1000, 500),), double_click_ms=400,
                              double_click_px=5, policy_version="p", recorder_version="r"))
    w.add_event(Event(t_ns=10**7, kind="focus", data={"app": "XTerm", "title": "notes", "pid": 1,
                                                      "geometry": [0, 0, 1000, 500]}))
    w.close(seal=True)
    with person.client(served) as c:
        Uploader(client=CollectorClient(http=c)).upload(sid, dd.path_of(sid))
    return sid


def weeks_held(served: Served) -> dict[str, str]:
    with served.store.engine.connect() as c:
        return {r.session_id: r.week for r in c.execute(select(session_weeks))}


def test_a_session_is_opened_once_to_learn_its_week(served: Served, tmp_path: Path) -> None:
    crowd_ = people(served, tmp_path, 10)
    for p in crowd_:
        p.deposit_key(served)
    Policies(store=served.store).publish(STATS_POLICY, actor="test")
    builds = CountingBuilds(DatasetBuilds(store=served.store))
    fleet = FleetStatistics(store=served.store, builds=builds, policies=Policies(store=served.store))
    assert fleet.weekly(STEWARD)  # the week of the ten sessions, released
    assert sorted(builds.opened) == sorted(p.session for p in crowd_)
    week = iso_week(1_700_000_000 * 10**9)
    assert weeks_held(served) == {p.session: week for p in crowd_}
    builds.opened.clear()
    fleet.weekly(STEWARD)
    assert builds.opened == []  # every week known and released: nothing opened
    late = recorded_now(served, crowd_[0])
    fleet.weekly(STEWARD)
    assert builds.opened == [late] and weeks_held(served)[late] == iso_week(time.time_ns())
    fleet.weekly(STEWARD)
    assert builds.opened == [late]  # its week has not ended: known, and not opened again


def test_erasure_and_retention_delete_a_sessions_week(served: Served, tmp_path: Path) -> None:
    crowd_ = people(served, tmp_path, 10)
    for p in crowd_:
        p.deposit_key(served)
    Policies(store=served.store).publish(STATS_POLICY, actor="test")
    FleetStatistics(store=served.store, builds=DatasetBuilds(store=served.store),
                    policies=Policies(store=served.store)).weekly(STEWARD)
    assert len(weeks_held(served)) == 10
    with crowd_[0].client(served) as c:
        assert CollectorClient(http=c).erase_me() == 1
    assert crowd_[0].session not in weeks_held(served) and len(weeks_held(served)) == 9
    sweep(served.store, Retention(sessions_days=0))
    assert weeks_held(served) == {}
