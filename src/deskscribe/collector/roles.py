"""Who may do what on the collector: the roles a device is enrolled with, and the one check
every operation runs before it touches anything.

A device holds exactly one role, fixed at enrolment; refusing by role here, before any read
or write, keeps the authorisation matrix in one place for both backends and every caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskscribe.errors import Forbidden, Invalid

ROLES = ("contributor", "steward", "ml_engineer", "auditor")

# A refusal worded for the person who sees it, where the generic one would not say why.
_REFUSALS: dict[tuple[str, ...], str] = {("contributor",): "only a contributor's device holds sessions"}


@dataclass(frozen=True, slots=True)
class Device:
    """An authenticated caller: the device, the pseudonymous contributor it records for, its
    role, and the region whose policy rules apply to it."""

    id: str
    contributor_id: str
    role: str
    region: str | None = None


def require(device: Device, *roles: str) -> None:
    """Refuse (403) a device holding none of ``roles``."""
    if device.role not in roles:
        raise Forbidden(_REFUSALS.get(roles, f"this needs the {' or '.join(roles)} role"))


def check_role(role: str) -> str:
    """A role an enrolment code may grant; anything else is refused (400) before a code exists."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}")
    return role
