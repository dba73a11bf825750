"""Watching the collector for a newly published policy while a session records.

Every stored item carries the policy version it was captured under, so a session records
under one version only: a new version, or the policy no longer applying to this device, ends
the session, and whoever started it decides what comes next (a new session, or the notice).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from deskscribe.errors import DeskscribeError
from deskscribe.policy import Policy

if TYPE_CHECKING:
    from deskscribe.client import PolicyAnswer


class PolicyWatch:
    """Asks ``fetch`` for the published policy every ``every_s``; calls ``on_change`` once it
    differs from the one recording runs under (or stops applying here), then stops asking.

    ``fetch`` answers None when the collector cannot be reached; that, and a refusal, leave
    recording as it is: the next start reports them.
    """

    def __init__(self, *, fetch: Callable[[], PolicyAnswer | None], current: Policy, every_s: float,
                 on_change: Callable[[], None], now_s: Callable[[], float] = time.monotonic) -> None:
        self._fetch, self._current, self._every = fetch, current, every_s
        self._on_change = on_change
        self._now_s = now_s
        self._stop = threading.Event()
        self.changed = False
        self._thread = threading.Thread(target=self._run, name="policy-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def check(self) -> bool:
        """Ask once; True (after calling ``on_change``) when the policy changed."""
        try:
            answer = self._fetch()
        except DeskscribeError:
            return False
        if answer is None:
            return False
        new = answer["policy"].get("version")
        if answer.get("enabled", False) and str(new) == self._current.version:
            return False
        self.changed = True
        self._on_change()
        return True

    def _run(self) -> None:
        """Asks on a fixed cadence, so a slow answer does not push every later question back."""
        due = self._now_s() + self._every
        while not self._stop.wait(max(0.0, due - self._now_s())):
            due = max(due + self._every, self._now_s())
            if self.check():
                return
