"""One-time enrolment codes, made to be read aloud and typed: upper-case letters and digits
without look-alikes (no 0/O, 1/I/L), in dash-separated groups. A code never starts with '-',
so a command line never mistakes it for an option."""

from __future__ import annotations

import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GROUPS, GROUP_LEN = 5, 4  # 20 symbols from 31: about 99 bits


def new_code() -> str:
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LEN)) for _ in range(GROUPS))


def normal_code(typed: str) -> str:
    """The code as issued, from what a person typed: any case, spaces or dashes anywhere. Codes of
    another shape (issued before these) are kept exactly as given."""
    bare = "".join(c for c in typed.upper() if c not in " -\t")
    if len(bare) != GROUPS * GROUP_LEN or any(c not in ALPHABET for c in bare):
        return typed.strip()
    return "-".join(bare[i:i + GROUP_LEN] for i in range(0, len(bare), GROUP_LEN))
