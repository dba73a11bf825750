"""Attacks on the review app, against the real `deskscribe review --web` process over HTTP:
each is refused and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deskscribe.outbox import Outbox
from tests.web.conftest import ReviewServer, synthetic_session


@pytest.fixture
def served(tmp_path: Path, web_env: dict[str, str]) -> Iterator[tuple[ReviewServer, Path, str]]:
    data = tmp_path / "data"
    sid = synthetic_session(data)
    server = ReviewServer(data, web_env)
    yield server, data, sid
    server.stop()
    assert "Traceback" not in server.proc.stderr.read()  # type: ignore[union-attr]  # every refusal was one line


def _signed_in(server: ReviewServer) -> tuple[httpx.Client, str]:
    """A client holding the session cookie, and the CSRF token its pages carry."""
    client = httpx.Client(base_url=server.base, timeout=10, follow_redirects=True)
    r = client.get(server.login_url)
    assert r.status_code == 200 and "Your sessions" in r.text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
    assert token is not None
    return client, token.group(1)


def test_wrong_host_header_is_refused(served: tuple[ReviewServer, Path, str]) -> None:
    server, _, _ = served
    for host in (f"rebind.example:{server.port}", f"localhost:{server.port}", "127.0.0.1"):
        r = httpx.get(server.login_url, headers={"Host": host})
        assert r.status_code == 421, host
        assert "set-cookie" not in r.headers
    client, _ = _signed_in(server)  # the refused tries did not spend the token
    r = client.get("/", headers={"Host": f"rebind.example:{server.port}"})
    assert r.status_code == 421 and "Your sessions" not in r.text


def test_no_cookie_sees_nothing(served: tuple[ReviewServer, Path, str]) -> None:
    server, _, sid = served
    for path in ("/", f"/sessions/{sid}", f"/sessions/{sid}/episodes/1", f"/sessions/{sid}/frames/1.png"):
        r = httpx.get(server.base + path)
        assert r.status_code == 401, path
        assert sid not in r.text or path != "/"
    r = httpx.post(f"{server.base}/sessions/{sid}/approve", data={"csrf_token": "x"})
    assert r.status_code == 401


def test_spent_token_opens_nothing(served: tuple[ReviewServer, Path, str]) -> None:
    server, _, _ = served
    first, _ = _signed_in(server)
    again = httpx.get(server.login_url, follow_redirects=False)
    assert again.status_code == 403 and "set-cookie" not in again.headers
    assert "already used" in again.text
    assert first.get("/").status_code == 200  # the browser that used it stays signed in


def test_missing_and_foreign_csrf_tokens_change_nothing(served: tuple[ReviewServer, Path, str]) -> None:
    server, data, sid = served
    client, good = _signed_in(server)
    box = Outbox(root=data)
    missing = client.post(f"/sessions/{sid}/approve", data={})
    foreign = client.post(f"/sessions/{sid}/approve", data={"csrf_token": "0" * 64})
    with httpx.Client(base_url=server.base, cookies={"deskscribe_review": "made-up"}) as stranger:
        other_session = stranger.post(f"/sessions/{sid}/approve", data={"csrf_token": good})
    assert [missing.status_code, foreign.status_code] == [403, 403]
    assert other_session.status_code == 401
    assert sid not in box.approved()
    ok = client.post(f"/sessions/{sid}/approve", data={"csrf_token": good}, follow_redirects=True)
    assert ok.status_code == 200 and f"approved {sid}" in ok.text
    assert sid in box.approved()


def test_malformed_request_gets_one_line_and_loses_nothing(served: tuple[ReviewServer, Path, str]) -> None:
    server, data, sid = served
    client, good = _signed_in(server)
    before = (data / "sessions" / f"{sid}.db").read_bytes()
    r = client.post(f"/sessions/{sid}/drop", data={"csrf_token": good, "step": "many", "episode": "1"})
    assert r.status_code == 400 and "nothing was changed" in r.text and "Traceback" not in r.text
    r = client.get("/sessions/not-a-session")
    assert r.status_code == 404 and "is not a session id" in r.text
    r = client.get("/sessions/abcdef")
    assert r.status_code == 404 and "no session abcdef" in r.text
    assert client.get("/no/such/page").status_code == 404
    r = client.post("/sessions/abcdef/approve", data={"csrf_token": good})
    assert r.status_code == 404 and "no session abcdef" in r.text
    r = client.post(f"/sessions/{sid}/drop", data={"csrf_token": good, "step": "99", "episode": "1"},
                    follow_redirects=True)
    assert r.status_code == 200 and "no step 99" in r.text
    assert (data / "sessions" / f"{sid}.db").read_bytes() == before


def test_flags_that_cannot_work_are_refused_in_one_line(tmp_path: Path, web_env: dict[str, str]) -> None:
    import socket

    from tests.support import cli, one_line_error

    data = str(tmp_path / "data")
    one_line_error(cli("review", "--port", "8000", "--data-dir", data, env=web_env, check=False),
                   "--port and --no-open go with --web")
    one_line_error(cli("review", "--web", "--port", "70000", "--data-dir", data, env=web_env, check=False),
                   "--port must be between 1 and 65535")
    one_line_error(cli("review", "--web", "show", "abc", "--data-dir", data, env=web_env, check=False),
                   "give it without `show`")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        one_line_error(cli("review", "--web", "--no-open", "--port", port, "--data-dir", data, env=web_env,
                           check=False), f"cannot listen on 127.0.0.1:{port}")
    helped = cli("review", "--help", env=web_env).stdout
    assert "--web" in helped and "--no-open" in helped and "Traceback" not in helped


def test_decrypted_pages_and_screenshots_stay_out_of_the_browser_cache(served: tuple[ReviewServer, Path, str]) -> None:
    server, _, sid = served
    client, _ = _signed_in(server)
    page = client.get(f"/sessions/{sid}/episodes/1")
    image = re.search(r'src="(/sessions/[^"]+\.png\?v=[0-9a-f]+)"', page.text)
    thumb = re.search(r'src="(/sessions/[^"]+\.webp\?v=[0-9a-f]+)"', page.text)
    assert image is not None and thumb is not None
    for r in (page, client.get(image.group(1)), client.get(thumb.group(1))):
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in r.headers["content-security-policy"]
    assert client.get(image.group(1)).headers["content-type"] == "image/png"
    assert client.get(thumb.group(1)).headers["content-type"] == "image/webp"


def test_an_episodes_outcome_is_corrected_from_its_page(served: tuple[ReviewServer, Path, str]) -> None:
    server, _, sid = served
    client, good = _signed_in(server)
    page = client.get(f"/sessions/{sid}/episodes/1")
    assert page.status_code == 200 and 'name="outcome"' in page.text
    done = client.post(f"/sessions/{sid}/episodes/1/instruction",
                       data={"csrf_token": good, "text": "", "outcome": "fail"})
    assert done.status_code == 200 and "outcome fail" in done.text
    assert "(outcome: fail)" in client.get(f"/sessions/{sid}/episodes/1").text
    wrong = client.post(f"/sessions/{sid}/episodes/1/instruction",
                        data={"csrf_token": good, "text": "", "outcome": "perhaps"})
    assert "success or fail" in wrong.text
