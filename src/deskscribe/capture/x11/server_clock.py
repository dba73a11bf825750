"""The X server's millisecond clock, estimated from the timestamps its events carry.

Input carries server time; pixel reads do not. Stamping each read with an estimate of the
server clock lets a pre-action frame be rolled back to before the action's own timestamp.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOCK_MARGIN_MS = 5


class ServerClock:
    """offset = max(server - receipt) over every timestamp seen, a tight lower bound."""

    def __init__(self, *, mono_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._mono_ns = mono_ns
        self._offset_ms = -(1 << 62)

    def observe(self, server_ms: int) -> None:
        self._offset_ms = max(self._offset_ms, server_ms - self._mono_ns() // 1_000_000)

    def now_ms(self) -> int:
        """Estimated server time now, erring late: a read that might show an action's effect
        is stamped after that action."""
        return self._mono_ns() // 1_000_000 + self._offset_ms + CLOCK_MARGIN_MS
