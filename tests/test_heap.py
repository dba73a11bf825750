"""The allocator settings a long recording relies on, on this machine's C library: screen-sized
arrays made and freed on a worker thread, with small allocations kept between them, as the
recorder's grab and redaction threads do."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import threading
import numpy as np
from deskscribe.heap import hold_mmap_threshold, return_freed

if HOLD:
    assert hold_mmap_threshold()
kept, frames = [], []

def work():
    first = np.ones((800, 1280, 4), dtype=np.uint8)
    del first  # glibc raises its mmap threshold here unless it is held
    for _ in range(12):
        frames.append(np.ones((800, 1280, 4), dtype=np.uint8))
        kept.append(np.ones(512, dtype=np.uint8))
        if len(frames) > 3:
            frames.pop(0)

worker = threading.Thread(target=work)
worker.start()
worker.join()
frames.clear()
if TRIM:
    return_freed()
print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])
"""


def _rss_kib(*, hold: bool, trim: bool) -> int:
    out = subprocess.run([sys.executable, "-c", f"HOLD, TRIM = {hold}, {trim}\n" + PROBE],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_freed_screen_sized_arrays_leave_the_resident_set() -> None:
    neither = _rss_kib(hold=False, trim=False)
    assert _rss_kib(hold=True, trim=False) < neither - 8 * 1024, neither
    assert _rss_kib(hold=False, trim=True) < neither - 8 * 1024, neither
