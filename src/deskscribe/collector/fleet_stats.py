"""Anonymised fleet statistics: how many actions of each type were made in each app or website,
per ISO week, across everyone who uploaded.

What a steward may see is a count over people, never a person (invariant 5), so:
- a cell (week, app or site, action type) is published only when at least ``MIN_PEOPLE``
  distinct contributors are in it;
- each person's actions in a week are bounded to ``max_actions_per_person`` in all (scaled down
  proportionally beyond it), so adding or removing one person changes the week's whole table by
  at most that bound in L1;
- every published count carries Laplace noise from OpenDP at scale bound / epsilon, which makes
  the week's table epsilon-differentially private for each person;
- a week is released once, after it has ended, and stored: asking again returns the same noisy
  figures, so repeated questions cannot average the noise away.

Each session's week is stored the first time it is opened (``session_weeks``), so a request
opens only sessions whose week is new or due for release, and none when nothing is.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import Connection, Executable, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from deskscribe.collector.consent import ConsentRecords
from deskscribe.collector.policies import Policies
from deskscribe.collector.roles import Device, require
from deskscribe.collector.schema import fleet_counts, fleet_weeks, session_weeks, sessions
from deskscribe.collector.store import MIN_PEOPLE, CollectorStore
from deskscribe.dataset.build import UNREADABLE, session_episodes
from deskscribe.dataset.episodes import Episode
from deskscribe.errors import Conflict
from deskscribe.policy import FleetStatsPolicy, parse_policy
from deskscribe.store import SessionReader

Cell = tuple[str, str]  # (app or site, action type)
Noise = Callable[[float, float], float]  # (true value, scale) -> released value
Wanted = Callable[[str], bool]  # is this week to be counted now?
BATCH = 1000  # session weeks stored per statement, well inside the databases' limits on parameters


class SessionOpener(Protocol):
    @property
    def owners(self) -> dict[str, str]:
        """Session id -> contributor id, for every session that opens."""

    def __call__(self, session_id: str) -> SessionReader: ...


class ReadableSessions(Protocol):
    """What statistics need of dataset builds: the sessions a build could read."""

    def readable(self) -> AbstractContextManager[SessionOpener]: ...


@dataclass(frozen=True, slots=True)
class Count:
    week: str
    app: str
    action: str
    count: int


def iso_week(wall_ns: int) -> str:
    year, week, _ = dt.datetime.fromtimestamp(wall_ns // 10**9, tz=dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"


def week_end_ns(week: str) -> int:
    """The first instant after ``week`` (Monday 00:00 UTC of the next one)."""
    year, num = week.split("-W")
    monday = dt.datetime.fromisocalendar(int(year), int(num), 1).replace(tzinfo=dt.UTC)
    return int((monday + dt.timedelta(days=7)).timestamp()) * 10**9


def actions_in(episodes: Iterable[Episode]) -> Counter[Cell]:
    """One session's actions by (site, or app where no site) and type; episode ends are not actions."""
    out: Counter[Cell] = Counter()
    for ep in episodes:
        for step in ep.steps:
            if step.action.type == "terminate":
                continue
            url = step.focus.get("url")
            where = (urlsplit(url).hostname if isinstance(url, str) else None) or step.focus.get("app")
            if where:
                out[(str(where), step.action.type)] += 1
    return out


def bounded(counts: Mapping[Cell, int], bound: int) -> dict[Cell, float]:
    """One person's week scaled down so it sums to at most ``bound``: their weight in the table."""
    total = sum(counts.values())
    factor = 1.0 if total <= bound else bound / total
    return {cell: n * factor for cell, n in counts.items() if n > 0}


def laplace(value: float, scale: float) -> float:
    """OpenDP's Laplace mechanism on one float."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    mechanism = dp.m.make_laplace(dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float),
                                  scale=scale)
    return float(mechanism(float(value)))


def release_week(week: str, people: Mapping[str, Mapping[Cell, int]], *, policy: FleetStatsPolicy,
                 min_people: int, noise: Noise = laplace) -> list[Count]:
    """The week's published cells: enough people in the cell, bounded weights, noise added."""
    weight: defaultdict[Cell, float] = defaultdict(float)
    members: defaultdict[Cell, int] = defaultdict(int)
    for counts in people.values():
        for cell, w in bounded(counts, policy.max_actions_per_person).items():
            weight[cell] += w
            members[cell] += 1
    scale = policy.max_actions_per_person / policy.epsilon
    return [Count(week, app, action, max(0, round(noise(weight[(app, action)], scale))))
            for (app, action) in sorted(weight) if members[(app, action)] >= min_people]


class FleetStatistics:
    """The steward's weekly figures: ended weeks are released on the first request after they
    end, from every session a build could read, and stored; later requests read what is stored."""

    def __init__(self, *, store: CollectorStore, builds: ReadableSessions, policies: Policies,
                 min_people: int = MIN_PEOPLE, noise: Noise = laplace) -> None:
        self.store = store
        self.builds = builds
        self.policies = policies
        self.min_people = min_people
        self.noise = noise

    def weekly(self, device: Device) -> list[Count]:
        require(device, "steward")
        self.release_ended(self._policy())
        with self.store.engine.connect() as c:
            rows = c.execute(select(fleet_counts).order_by(fleet_counts.c.week, fleet_counts.c.app,
                                                           fleet_counts.c.action)).all()
        return [Count(r.week, r.app, r.action, int(r.actions)) for r in rows]

    def _policy(self) -> FleetStatsPolicy:
        current = self.policies.current()
        fs = None if current is None else parse_policy(current[1], source="the published policy").fleet_stats
        if fs is None:
            raise Conflict("the published policy makes no fleet statistics; add a [fleet_stats] table"
                           " (epsilon, max_actions_per_person) and publish it, so the notice announces them")
        return fs

    def release_ended(self, policy: FleetStatsPolicy) -> list[str]:
        """Release every ended week not released yet; returns the weeks released now."""
        with self.store.engine.connect() as c:
            done = {r.week for r in c.execute(select(fleet_weeks.c.week))}
        now = self.store.wall_ns()
        weeks = self._people_by_week(lambda week: week not in done and week_end_ns(week) <= now)
        released = []
        for week, people in sorted(weeks.items()):
            counts = release_week(week, people, policy=policy, min_people=self.min_people, noise=self.noise)
            if self._store_week(week, counts, policy, now):
                released.append(week)
        return released

    def _people_by_week(self, wanted: Wanted) -> dict[str, dict[str, Counter[Cell]]]:
        weeks: defaultdict[str, defaultdict[str, Counter[Cell]]] = defaultdict(lambda: defaultdict(Counter))
        known = self._known_weeks()
        if not self._any_to_open(known, wanted):
            return {}
        learnt: dict[str, str] = {}
        with self.builds.readable() as opener:
            for sid, who in opener.owners.items():
                week = known.get(sid)
                if week is not None and not wanted(week):
                    continue  # released already, or not ended: not opened
                try:
                    with opener(sid) as reader:
                        week = week or learnt.setdefault(sid, iso_week(reader.meta.started_wall_ns))
                        if not wanted(week):
                            continue
                        episodes = session_episodes(reader.meta, list(reader.iter_events()), precision_ms=1)
                except UNREADABLE:
                    continue  # a build skips it too
                weeks[week][who].update(actions_in(episodes))
        self._remember(learnt)
        return {w: dict(p) for w, p in weeks.items()}

    def _known_weeks(self) -> dict[str, str]:
        with self.store.engine.connect() as c:
            return {r.session_id: r.week for r in c.execute(select(session_weeks))}

    def _any_to_open(self, known: Mapping[str, str], wanted: Wanted) -> bool:
        """Whether a complete session of someone a build may read has a week unknown or wanted."""
        keyed = self.store.keyed_contributors() - ConsentRecords(store=self.store).objecting()
        with self.store.engine.connect() as c:
            rows = c.execute(select(sessions.c.id, sessions.c.contributor_id)
                             .where(sessions.c.completed_ns.is_not(None))).all()
        return any(r.contributor_id in keyed and (r.id not in known or wanted(known[r.id])) for r in rows)

    def _remember(self, learnt: Mapping[str, str]) -> None:
        """Store the weeks learnt, for sessions still held: their rows locked, so an erasure
        running meanwhile (it deletes the session, then its week) deletes the week too."""
        ids = sorted(learnt)
        for start in range(0, len(ids), BATCH):
            with self.store.engine.begin() as c:
                held = c.execute(select(sessions.c.id).where(sessions.c.id.in_(ids[start:start + BATCH]))
                                 .with_for_update()).scalars().all()
                if held:
                    c.execute(_insert_new(c, [{"session_id": sid, "week": learnt[sid]} for sid in held]))

    def _store_week(self, week: str, counts: list[Count], policy: FleetStatsPolicy, now: int) -> bool:
        """Store a released week; False when another request released it first (its figures stand)."""
        try:
            with self.store.engine.begin() as c:
                c.execute(fleet_weeks.insert().values(week=week, released_ns=now, epsilon=policy.epsilon,
                                                      max_actions_per_person=policy.max_actions_per_person))
                if counts:
                    c.execute(fleet_counts.insert(), [{"week": n.week, "app": n.app, "action": n.action,
                                                       "actions": n.count} for n in counts])
                self.store.audit(c, "collector", "fleet_stats_release", week,
                                 f"{len(counts)} cells, epsilon {policy.epsilon:g}")
        except IntegrityError:
            return False
        return True


def _insert_new(c: Connection, rows: list[dict[str, str]]) -> Executable:
    """An insert of session weeks that leaves rows another request stored first as they are."""
    insert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
    return insert(session_weeks).values(rows).on_conflict_do_nothing()
