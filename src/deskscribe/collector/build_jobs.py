"""Dataset builds as jobs in the database, built by whichever collector holds the job's lease.

A build request records its dataset in state ``building``: that row is the job. Any collector
process on the database may claim it (PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, so two
collectors never wait on or take the same job; SQLite has one writer, and the claim is a
conditional update either way), renews the lease while it builds, and records the result only
while it still holds the lease. A collector killed mid-build stops renewing; once its lease
has run out, another claims the job and builds it again from the start, up to
``MAX_ATTEMPTS`` claims, after which the job fails with the reason. A dataset is therefore
recorded as built once, by one holder.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Engine, or_, select

from deskscribe.collector.schema import datasets

LEASE_S = 30.0  # a holder renews every third of this; a dead one's job is free after it
MAX_ATTEMPTS = 3


def new_owner(kind: str = "collector") -> str:
    """A holder's name: unique per process, readable in the database."""
    return f"{kind}-{secrets.token_hex(6)}"


@dataclass
class Leases:
    """Claiming, renewing and fencing build jobs for one holder (``owner``)."""

    engine: Engine
    wall_ns: Callable[[], int]
    owner: str
    lease_s: float = LEASE_S
    max_attempts: int = MAX_ATTEMPTS

    def claim_next(self) -> str | None:
        """The oldest job nobody holds, now held by this owner; None when there is none."""
        while True:
            with self.engine.begin() as c:
                q = (select(datasets.c.id, datasets.c.attempts).where(self._free())
                     .order_by(datasets.c.created_ns).limit(1))
                if c.dialect.name == "postgresql":
                    q = q.with_for_update(skip_locked=True)
                row = c.execute(q).first()
                if row is None:
                    return None
                if int(row.attempts or 0) >= self.max_attempts:
                    self._give_up(c, row.id, int(row.attempts))
                    continue
                if self._take(c, row.id):
                    return str(row.id)

    def claim(self, dataset_id: str) -> bool:
        """Hold this one job, if nobody else does."""
        with self.engine.begin() as c:
            return self._take(c, dataset_id)

    def renew(self, dataset_id: str) -> bool:
        """Extend the lease; False once it is lost (expired and taken, or the job ended)."""
        with self.engine.begin() as c:
            return c.execute(datasets.update().where(datasets.c.id == dataset_id,
                                                     datasets.c.state == "building",
                                                     datasets.c.lease_owner == self.owner)
                             .values(lease_until_ns=self._until())).rowcount == 1

    def holds(self, dataset_id: str) -> ColumnElement[bool]:
        """The condition a holder's final update carries, so a lost lease writes nothing."""
        return (datasets.c.id == dataset_id) & (datasets.c.state == "building") & (
            datasets.c.lease_owner == self.owner)

    @contextmanager
    def renewed(self, dataset_id: str) -> Iterator[threading.Event]:
        """Renew the lease in the background while the body runs; the event is set if it was lost."""
        lost, done = threading.Event(), threading.Event()

        def beat() -> None:
            while not done.wait(self.lease_s / 3):
                if not self.renew(dataset_id):
                    lost.set()
                    return

        beater = threading.Thread(target=beat, name="deskscribe-lease", daemon=True)
        beater.start()
        try:
            yield lost
        finally:
            done.set()
            beater.join()

    def _free(self) -> ColumnElement[bool]:
        return (datasets.c.state == "building") & or_(datasets.c.lease_until_ns.is_(None),
                                                      datasets.c.lease_until_ns < self.wall_ns())

    def _until(self) -> int:
        return self.wall_ns() + int(self.lease_s * 1e9)

    def _take(self, c: Connection, dataset_id: str) -> bool:
        return c.execute(datasets.update().where(datasets.c.id == dataset_id, self._free())
                         .values(lease_owner=self.owner, lease_until_ns=self._until(),
                                 attempts=datasets.c.attempts + 1)).rowcount == 1

    def _give_up(self, c: Connection, dataset_id: str, attempts: int) -> None:
        c.execute(datasets.update().where(datasets.c.id == dataset_id, self._free())
                  .values(state="failed", pending=None, lease_owner=None, lease_until_ns=None,
                          stale_reason=f"the build was cut off {attempts} times (the collector building"
                                       " it stopped); start it again"))


class BuildWorker:
    """One collector's builder: claims jobs one at a time and builds them; woken by a new
    request, and every ``poll_s`` to take over jobs whose holder died."""

    def __init__(self, *, leases: Leases, build: Callable[[str], object], poll_s: float = 2.0) -> None:
        self.leases = leases
        self.build = build
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="deskscribe-builds", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                while not self._stop.is_set() and (job := self.leases.claim_next()) is not None:
                    self.build(job)
            except Exception:  # a failed build is recorded on its dataset; the worker goes on
                pass
            self._wake.wait(self.poll_s)
