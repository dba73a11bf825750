"""Signing in to the console: a one-time link from `deskscribe admin login-link` becomes a
browser session; a session ends when it expires or its holder signs out.

A link or session secret is kept only as its SHA-256, like a device credential. Every change a
page makes carries a CSRF token derived from the session secret, so it needs no storage and a
token from another session never matches. A contributor signs in as one of their enrolled
devices: the console then acts with exactly that device's rights, and revoking the device ends
its console sessions too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from deskscribe.collector.roles import Device, check_role
from deskscribe.collector.schema import devices
from deskscribe.collector.store import CollectorStore
from deskscribe.collector.ui.tables import console_sessions, login_links
from deskscribe.errors import Forbidden, Invalid, NotFound, Unauthorised

SECOND_NS = 10**9
LINK_TTL_S = 15 * 60
SESSION_TTL_S = 8 * 3600  # one working day, then a new link


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Signed:
    """A signed-in browser: who it acts as, and the token its forms must send back."""

    device: Device
    csrf: str


class SignIns:
    def __init__(self, *, store: CollectorStore, wall_ns: Callable[[], int] | None = None,
                 link_ttl_s: int = LINK_TTL_S, session_ttl_s: int = SESSION_TTL_S) -> None:
        self.store = store
        self.wall_ns = wall_ns or store.wall_ns
        self.link_ttl_ns = link_ttl_s * SECOND_NS
        self.session_ttl_ns = session_ttl_s * SECOND_NS

    def create_link(self, role: str, *, device_id: str | None = None, actor: str) -> str:
        """A one-time secret for a sign-in link; a contributor's names their enrolled device."""
        check_role(role)
        if role == "contributor" and not device_id:
            raise Invalid("a contributor signs in as one of their devices: give --device DEVICE_ID")
        secret = secrets.token_urlsafe(32)
        now = self.wall_ns()
        with self.store.engine.begin() as c:
            if device_id is not None:
                self._device(c, device_id, role)
            c.execute(login_links.insert().values(digest=_digest(secret), role=role, device_id=device_id,
                                                  created_ns=now, expires_ns=now + self.link_ttl_ns))
            self.store.audit(c, actor, "login_link", device_id or role)
        return secret

    def exchange(self, link: str) -> tuple[str, Signed]:
        """Spend a link on a new session; returns the session secret (the cookie) and its holder."""
        now = self.wall_ns()
        with self.store.engine.begin() as c:
            row = c.execute(select(login_links).where(login_links.c.digest == _digest(link))
                            .with_for_update()).first()
            if row is None or row.used_ns is not None or row.expires_ns <= now:
                raise Unauthorised("this sign-in link is unknown, used or expired;"
                                   " ask for a new one (deskscribe admin login-link)")
            c.execute(login_links.update().where(login_links.c.digest == row.digest).values(used_ns=now))
            if row.device_id is not None:
                dev = self._device(c, row.device_id, row.role)
            else:
                dev = Device(f"console-{secrets.token_hex(6)}", "", row.role)
            secret = secrets.token_urlsafe(32)
            c.execute(console_sessions.insert().values(
                digest=_digest(secret), actor=dev.id, role=dev.role, contributor_id=dev.contributor_id,
                region=dev.region, device_id=row.device_id, created_ns=now,
                expires_ns=now + self.session_ttl_ns))
            self.store.audit(c, dev.id, "console_sign_in", dev.role)
        return secret, Signed(dev, csrf_of(secret))

    def resolve(self, secret: str | None) -> Signed:
        """The holder of a live session; expired, signed-out or unknown sessions are refused."""
        if not secret:
            raise Unauthorised("sign in first: ask a steward for a link (deskscribe admin login-link)")
        with self.store.engine.connect() as c:
            row = c.execute(select(console_sessions)
                            .where(console_sessions.c.digest == _digest(secret))).first()
            if row is None or row.revoked_ns is not None:
                raise Unauthorised("this console session ended; sign in again with a new link")
            if row.expires_ns <= self.wall_ns():
                raise Unauthorised("this console session expired; sign in again with a new link")
            if row.device_id is not None:
                live = c.execute(select(devices.c.revoked_ns).where(devices.c.id == row.device_id)).first()
                if live is None or live.revoked_ns is not None:
                    raise Unauthorised("the device this session signed in as was revoked")
        return Signed(Device(row.actor, row.contributor_id, row.role, row.region), csrf_of(secret))

    def sign_out(self, secret: str) -> None:
        """Revoke the session server-side: the cookie opens nothing from now on."""
        signed = self.resolve(secret)
        with self.store.engine.begin() as c:
            c.execute(console_sessions.update().where(console_sessions.c.digest == _digest(secret))
                      .values(revoked_ns=self.wall_ns()))
            self.store.audit(c, signed.device.id, "console_sign_out", signed.device.role)

    @staticmethod
    def _device(c: Connection, device_id: str, role: str) -> Device:
        row = c.execute(select(devices).where(devices.c.id == device_id)).first()
        if row is None:
            raise NotFound(f"no device {device_id}")
        if row.revoked_ns is not None:
            raise Forbidden(f"device {device_id} is revoked")
        if row.role != role:
            raise Invalid(f"device {device_id} holds the {row.role} role, not {role}")
        return Device(row.id, row.contributor_id, row.role, row.region)


def csrf_of(secret: str) -> str:
    return hmac.new(secret.encode(), b"deskscribe/console/csrf", hashlib.sha256).hexdigest()


def csrf_matches(signed: Signed, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(signed.csrf, sent)
