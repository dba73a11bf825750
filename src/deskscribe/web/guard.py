"""Who may use a page served on the loopback: the browser that opened the printed URL.

Three checks, each a pure function or a small object so the console can take what it needs:

* the ``Host`` header must be the exact loopback name and port printed (a DNS-rebinding page
  reaches 127.0.0.1 under its own host name, which this refuses);
* the URL's token is good once: it is exchanged for a session id kept in an HttpOnly,
  SameSite=Strict cookie, so a token copied from the history or a log opens nothing;
* every change is a POST carrying a CSRF token bound to that session id (an HMAC under a key
  made at start), so another page cannot make one even if it could send the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

COOKIE = "deskscribe_review"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOOPBACK = "127.0.0.1"


def loopback_host(port: int) -> str:
    """The only ``Host`` a request may carry: the address the printed URL names."""
    return f"{LOOPBACK}:{port}"


def host_allowed(host: str | None, expected: str) -> bool:
    return host is not None and host.strip().lower() == expected.lower()


def csrf_token(key: bytes, session: str) -> str:
    return hmac.new(key, f"csrf:{session}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, session: str, token: str | None) -> bool:
    """Constant-time, and never true without a session."""
    return bool(session) and token is not None and hmac.compare_digest(csrf_token(key, session), token)


def cookie_header(session: str, *, max_age_s: int | None = None) -> str:
    """The session cookie: no script reads it, no other site's request carries it."""
    age = f"; Max-Age={max_age_s}" if max_age_s is not None else ""
    return f"{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/{age}"


class Guard:
    """The one-time login token and the sessions it was exchanged for."""

    def __init__(self, *, new_token: Callable[[], str] = lambda: secrets.token_urlsafe(32),
                 key: bytes | None = None) -> None:
        self._new_token = new_token
        self.key = secrets.token_bytes(32) if key is None else key
        self.login_token: str | None = new_token()
        self._sessions: set[str] = set()

    def exchange(self, token: str | None) -> str | None:
        """A new session id for the login token, which is spent by this call; None after."""
        if token is None or self.login_token is None or not hmac.compare_digest(token, self.login_token):
            return None
        self.login_token = None
        session = self._new_token()
        self._sessions.add(session)
        return session

    def signed_in(self, session: str | None) -> bool:
        return session is not None and session in self._sessions

    def sign_out(self, session: str | None) -> None:
        self._sessions.discard(session or "")

    def csrf_for(self, session: str) -> str:
        return csrf_token(self.key, session)

    def csrf_ok(self, session: str | None, token: str | None) -> bool:
        return self.signed_in(session) and csrf_valid(self.key, session or "", token)
