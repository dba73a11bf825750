"""Site globs: what a designated site matches, and the hostile URLs it must not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deskscribe.errors import PolicyError
from deskscribe.sites import matches_any, parse_glob, strip_url


@pytest.mark.parametrize(("glob", "url", "expected"), [
    ("https://*.example.com/*", "https://a.example.com/x", True),
    ("https://*.example.com/*", "https://a.b.example.com/x/y?q=1#f", True),
    ("https://*.example.com/*", "https://A.Example.COM/", True),
    ("https://*.example.com/*", "https://example.com/", False),  # subdomains only
    ("https://*.example.com/*", "https://example.com.evil.net/", False),
    ("https://*.example.com/*", "https://evilexample.com/", False),
    ("https://*.example.com/*", "https://evil.net/?u=https://x.example.com/", False),
    ("https://*.example.com/*", "https://x.example.com@evil.net/", False),
    ("https://*.example.com/*", "http://a.example.com/", False),  # scheme must match
    ("https://*.example.com/*", "https://a.example.com:8443/", False),  # default port only
    ("*://app.example.com/*", "http://app.example.com/", True),
    ("*://app.example.com/*", "ftp://app.example.com/", False),
    ("http://127.0.0.1:8001/*", "http://127.0.0.1:8001/admin/", True),
    ("http://127.0.0.1:8001/*", "http://127.0.0.1:8002/admin/", False),
    ("http://127.0.0.1:8001/*", "http://127.0.0.1/admin/", False),
    ("https://mail.example.com/inbox/*", "https://mail.example.com/inbox/42", True),
    ("https://mail.example.com/inbox/*", "https://mail.example.com/settings", False),
    ("https://mail.example.com/a[1]/*", "https://mail.example.com/a[1]/x", True),  # no char classes
    ("https://mail.example.com/a[1]/*", "https://mail.example.com/a1/x", False),
    ("https://mail.example.com", "https://mail.example.com/anything", True),  # no path: all of it
    ("https://*.example.com/*", "https://a.example.com:notaport/", False),
    ("https://*.example.com/*", "javascript:alert(1)", False),
])
def test_site_globs(glob: str, url: str, expected: bool) -> None:
    assert parse_glob(glob).matches(url) is expected


@pytest.mark.parametrize("bad", ["example.com", "https://", "https://exa mple.com/", "file:///etc/*", ""])
def test_a_malformed_glob_is_a_policy_error_that_shows_the_form(bad: str) -> None:
    with pytest.raises(PolicyError, match="https://"):
        parse_glob(bad)


def test_stored_urls_lose_query_fragment_and_user_info() -> None:
    assert strip_url("https://u:p@a.example.com:8443/x/y?token=abc#frag") == "https://a.example.com:8443/x/y"
    assert strip_url("https://a.example.com/x?q=1#f", keep_query=True) == "https://a.example.com/x?q=1#f"
    assert strip_url("https://a.example.com:bad/") == ""
    assert not matches_any(None, ["https://*/*"])


CASES = json.loads((Path(__file__).parents[1] / "extension-tests" / "glob-cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[f"{c['glob']} {c['url']!r}" for c in CASES])
def test_the_recorder_matches_sites_exactly_as_the_extension_does(case: dict[str, object]) -> None:
    """extension-tests/ runs the same cases through the extension's matcher."""
    assert parse_glob(str(case["glob"])).matches(str(case["url"])) is case["match"]
