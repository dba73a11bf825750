"""How many enrolment attempts the collector answers, so codes cannot be guessed at speed.

An attempt is counted when it arrives (so a burst of concurrent guesses is counted in full)
and forgiven when it succeeds, so a steward enrolling a whole office behind one address is
never held up: only failures use up the allowance. Attempts are counted per client address
(an IPv6 client by its /64, which one machine usually holds whole) and per code.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from deskscribe.collector.codes import normal_code

PER_ADDRESS = 10
PER_CODE = 5
WINDOW_S = 600.0
MAX_KEYS = 50_000  # beyond this the oldest keys are forgotten: memory stays bounded


class Allowance:
    """At most ``limit`` attempts per key within any ``window_s``."""

    def __init__(self, *, limit: int, window_s: float, clock: Callable[[], float],
                 max_keys: int = MAX_KEYS) -> None:
        self._limit = limit
        self._window = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._seen: dict[str, deque[float]] = {}

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        now = self._clock()
        times = self._recent(key, now)
        return 0.0 if len(times) < self._limit else times[0] + self._window - now

    def take(self, key: str) -> None:
        now = self._clock()
        self._recent(key, now).append(now)
        self._seen[key] = self._seen.pop(key)  # newest last: the first key is the one to forget
        while len(self._seen) > self._max_keys:
            del self._seen[next(iter(self._seen))]

    def give_back(self, key: str) -> None:
        times = self._seen.get(key)
        if times:
            times.pop()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times


class EnrolThrottle:
    """The enrolment route asks :meth:`admit` before trying a code and calls
    :meth:`succeeded` when the code was good."""

    def __init__(self, *, per_address: int = PER_ADDRESS, per_code: int = PER_CODE,
                 window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._addresses = Allowance(limit=per_address, window_s=window_s, clock=clock)
        self._codes = Allowance(limit=per_code, window_s=window_s, clock=clock)
        self._lock = threading.Lock()  # sync routes run on worker threads

    def admit(self, address: str, code: str) -> int:
        """0 when this attempt may go ahead (it is counted), else the whole seconds to wait."""
        keys = (address_key(address), _code_key(code))
        with self._lock:
            wait = max(self._addresses.wait_s(keys[0]), self._codes.wait_s(keys[1]))
            if wait > 0:
                return max(1, math.ceil(wait))
            self._addresses.take(keys[0])
            self._codes.take(keys[1])
        return 0

    def succeeded(self, address: str, code: str) -> None:
        with self._lock:
            self._addresses.give_back(address_key(address))
            self._codes.give_back(_code_key(code))


def address_key(address: str) -> str:
    """The client an address stands for: itself, or for IPv6 its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _code_key(code: str) -> str:
    """A code is kept only as its digest: the throttle never holds a usable code."""
    return hashlib.sha256(normal_code(code).encode()).hexdigest()
