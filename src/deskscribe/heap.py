"""Keeping a long-running recorder's heap from holding on to memory it no longer uses.

A recorder allocates and frees screen-sized arrays (4 MiB at 1280x800) all day. glibc raises
its mmap threshold after the first such array is freed, so later ones come from thread arenas
and their pages stay resident after they are freed; in a soak that was about 15 MiB. A fixed
threshold keeps large arrays in mappings that are returned when freed, and a periodic trim
returns free pages inside the arenas. No library exposes these two glibc calls; ctypes does.
Elsewhere (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt parameter, from glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, held there


@cache
def _glibc() -> Any | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


def hold_mmap_threshold() -> bool:
    """Large allocations always get their own mapping; True when the allocator took it."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def return_freed() -> None:
    """Give free heap pages back to the system (cheap: a few milliseconds on a 30 MiB heap)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
