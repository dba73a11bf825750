"""The X server clock estimate that stamps pixel reads."""

from deskscribe.capture.x11.server_clock import CLOCK_MARGIN_MS, ServerClock


class FakeMono:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


def test_the_offset_is_the_largest_seen_so_late_deliveries_do_not_pull_it_back() -> None:
    mono = FakeMono()
    clock = ServerClock(mono_ns=mono)
    mono.ns = 1_000_000_000
    clock.observe(5000)  # server 5000 ms at local 1000 ms
    mono.ns = 2_000_000_000
    clock.observe(5500)  # arrived 500 ms late: not a better bound
    mono.ns = 3_000_000_000
    assert clock.now_ms() == 7000 + CLOCK_MARGIN_MS
