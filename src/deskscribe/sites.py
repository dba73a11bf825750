"""Designated websites: URL globs over scheme, host and path, and the URL as it may be stored.

A glob reads ``https://*.example.com/*``. The scheme must match (``*`` stands for http or
https); ``*.`` before a host matches any subdomain of it, never the bare domain and never a
host that merely ends in the same letters; ``*`` in the path matches anything, ``/``
included. A port in the glob must match; no port means the scheme's default port only. The
query and fragment never take part. The browser extension implements the same rules
(``browser/extension/lib.js``); both are tested against the same hostile cases. Written here
because no well-kept library matches WebExtension-style URL patterns with ports.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from deskscribe.errors import PolicyError

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class UrlGlob:
    scheme: str  # "http", "https" or "*"
    host: str  # "example.com", "*.example.com" or "*"
    port: int | None
    path: re.Pattern[str]

    def matches(self, url: str) -> bool:
        try:
            parts = _split(url)
            port = parts.port
        except ValueError:  # a malformed URL matches nothing
            return False
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower().rstrip(".")
        if scheme not in _DEFAULT_PORTS or not host:
            return False
        if self.scheme not in ("*", scheme):
            return False
        if (port or _DEFAULT_PORTS[scheme]) != (self.port or _DEFAULT_PORTS[scheme]):
            return False
        if not _host_matches(host, self.host):
            return False
        return bool(self.path.fullmatch(parts.path or "/"))


def _split(url: str) -> SplitResult:
    """Split a URL as a browser does (WHATWG): ends trimmed of controls and spaces, tabs and
    newlines dropped, and a backslash read as a slash, so ``https://evil.net\\@x.example.com/``
    is a page on evil.net here as in the browser."""
    url = url.strip("".join(map(chr, range(33)))).translate(_DROPPED)
    if re.match(r"(?i)https?:", url):
        url = url.replace("\\", "/")
    return urlsplit(url)


_DROPPED = {ord(c): None for c in "\t\n\r"}


def _host_matches(host: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


@functools.lru_cache(maxsize=512)
def parse_glob(text: str) -> UrlGlob:
    m = re.fullmatch(r"(\*|https?)://(\*|(?:\*\.)?[A-Za-z0-9.-]+)(?::(\d{1,5}))?(/.*)?", text.strip())
    if m is None:
        raise PolicyError(f"{text!r} is not a site glob; write it like https://*.example.com/* or"
                          " http://127.0.0.1:8000/admin/*")
    scheme, host, port, path = m.groups()
    path_re = ".*".join(re.escape(p) for p in (path or "/*").split("*"))
    return UrlGlob(scheme=scheme, host=host.lower().rstrip("."), port=int(port) if port else None,
                   path=re.compile(path_re, re.DOTALL))


def matches_any(url: str | None, globs: Iterable[str]) -> bool:
    return url is not None and any(parse_glob(g).matches(url) for g in globs)


def strip_url(url: str, *, keep_query: bool = False) -> str:
    """The URL as stored: without the query and fragment (where search terms, tokens and
    record ids live) unless the policy keeps them; never with user info."""
    try:
        parts = _split(url)
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return ""
    query, fragment = (parts.query, parts.fragment) if keep_query else ("", "")
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
