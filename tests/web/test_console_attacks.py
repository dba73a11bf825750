"""The console refuses what it must, over HTTP against a real collector: spent links, expired
and signed-out sessions, forms without their session's CSRF token, one contributor's cookie on
another's data, and every /ui route x every role exactly as the matrix says, on SQLite and
PostgreSQL."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskscribe.collector.policies import Policies
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.collector.ui.sign_in import SESSION_TTL_S, SignIns
from deskscribe.envelope import new_collector_key
from tests.support import Served, enrol
from tests.web.test_console_fixtures import DS, EPISODE, Browser, csrf_in, dataset_on_record, sign_in

POLICY = 'version = "1"\ndesignated_apps = ["XTerm"]\n'


@pytest.fixture
def served(store: CollectorStore) -> Iterator[Served]:
    s = Served(store).start()
    yield s
    s.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000 * 10**9

    def __call__(self) -> int:
        return self.now


def test_a_login_link_works_once(served: Served) -> None:
    link = SignIns(store=served.store).create_link("steward", actor="test")
    with served.client() as first:
        assert first.get(f"/ui/sign-in?link={link}").status_code == 200  # following it spends nothing
        r = first.post("/ui/sign-in", data={"link": link})
        assert r.status_code == 303 and r.headers["location"] == "/ui/policy"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # http here
        assert link not in cookie
    proxied = SignIns(store=served.store).create_link("steward", actor="test")
    with served.client() as tls:  # behind a TLS proxy on this host, the cookie is Secure
        r = tls.post("/ui/sign-in", data={"link": proxied}, headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
    with served.client() as second:
        again = second.post("/ui/sign-in", data={"link": link})
        assert again.status_code == 401 and "unknown, used or expired" in again.text
        assert "deskscribe_console" not in again.headers.get("set-cookie", "")
        assert second.get("/ui/policy").status_code == 401
    actions = [e.action for e in served.store.audit_log(served.store.authenticate(enrol(served, "auditor")["token"]))]
    assert actions.count("console_sign_in") == 2 and actions.count("login_link") == 2  # the reuse signed nobody in


def test_a_form_posted_from_another_site_is_refused(served: Served) -> None:
    link = SignIns(store=served.store).create_link("steward", actor="test")
    with served.client() as c:
        r = c.post("/ui/sign-in", data={"link": link}, headers={"Origin": "https://elsewhere.example"})
        assert r.status_code == 403 and "another site" in r.text and "set-cookie" not in r.headers
        assert c.post("/ui/sign-in", data={"link": link}, headers={"Origin": served.url}).status_code == 303
        csrf = csrf_in(c.get("/ui/policy").text)
        r = c.post("/ui/enrol-codes", data={"csrf": csrf, "role": "steward"}, headers={"Origin": "null"})
        assert r.status_code == 403  # even with the right token


def test_links_and_sessions_are_stored_as_digests_only(served: Served) -> None:
    from sqlalchemy import text

    link = SignIns(store=served.store).create_link("auditor", actor="test")
    with served.client() as c:
        secret = c.post("/ui/sign-in", data={"link": link}).cookies["deskscribe_console"]
    with served.store.engine.connect() as conn:
        rows = [str(r) for t in ("login_links", "console_sessions") for r in conn.execute(text(f"SELECT * FROM {t}"))]
    assert rows and not any(link in r or secret in r for r in rows)


def test_an_expired_session_is_refused(tmp_path: Path) -> None:
    clock = Clock()
    engine = connect(f"sqlite:///{tmp_path / 'c.db'}")
    store = CollectorStore.open(engine=engine, blobs=tmp_path / "blobs", private_key=new_collector_key(), wall_ns=clock)
    served = Served(store).start()
    try:
        steward = sign_in(served, "steward")
        clock.now += (SESSION_TTL_S - 60) * 10**9
        assert steward.http.get("/ui/devices").status_code == 200
        clock.now += 120 * 10**9
        r = steward.http.get("/ui/devices")
        assert r.status_code == 401 and "expired" in r.text
        assert steward.post("/ui/enrol-codes", {"role": "contributor"}).status_code == 401
        late = SignIns(store=store).create_link("steward", actor="test")
        clock.now += 16 * 60 * 10**9  # links last 15 minutes
        assert served.client().post("/ui/sign-in", data={"link": late}).status_code == 401
    finally:
        served.stop()
        engine.dispose()


def test_a_signed_out_session_is_revoked_on_the_server(served: Served) -> None:
    auditor = sign_in(served, "auditor")
    cookie = auditor.http.cookies["deskscribe_console"]
    r = auditor.post("/ui/sign-out")
    assert r.status_code == 200 and "signed out" in r.text
    with served.client() as replay:  # the same cookie, kept by someone who copied it
        replay.cookies.set("deskscribe_console", cookie)
        refused = replay.get("/ui/audit")
        assert refused.status_code == 401 and "ended" in refused.text


@pytest.mark.parametrize("token", ["missing", "foreign", "wrong"])
def test_a_change_without_its_sessions_csrf_token_is_refused(served: Served, token: str) -> None:
    steward, other = sign_in(served, "steward"), sign_in(served, "steward")
    sent = {"missing": None, "foreign": other.csrf, "wrong": "0" * 64}[token]
    data = {"toml": POLICY} | ({"csrf": sent} if sent else {})
    r = steward.http.post("/ui/policy/publish", data=data)
    assert r.status_code == 403 and "security token" in r.text
    assert Policies(store=served.store).current() is None  # nothing was published
    codes = steward.http.post("/ui/enrol-codes", data={"role": "steward", **({"csrf": sent} if sent else {})})
    assert codes.status_code == 403
    entries = served.store.audit_log(served.store.authenticate(enrol(served, "auditor")["token"]))
    assert ("enrol_code", "steward") not in [(e.action, e.subject) for e in entries]
    assert steward.post("/ui/policy/publish", {"toml": POLICY}).status_code == 200  # with it, it works


def test_a_contributor_sees_only_their_own_data(served: Served) -> None:
    import hashlib

    alice, bob = enrol(served), enrol(served)
    for who, sid in ((alice, "alice-session"), (bob, "bob-session")):
        with served.client(who["token"]) as c:
            assert c.put(f"/v1/sessions/{sid}/chunks/0", content=b"x",
                         headers={"X-Content-SHA256": hashlib.sha256(b"x").hexdigest()}).status_code == 201
    mine = sign_in(served, "contributor", alice["device_id"])
    page = mine.http.get("/ui/me")
    assert page.status_code == 200
    assert "alice-session" in page.text and alice["contributor_id"] in page.text
    assert "bob-session" not in page.text and bob["contributor_id"] not in page.text
    assert bob["device_id"] not in page.text
    for path in ("/ui/audit", "/ui/devices", "/ui/datasets", f"/ui/datasets/{DS}"):
        assert mine.http.get(path).status_code == 403, path
    with pytest.raises(Exception, match="holds the contributor role, not steward"):
        SignIns(store=served.store).create_link("steward", device_id=alice["device_id"], actor="test")
    served.store.revoke(alice["device_id"], actor="test")  # a revoked device's console session ends too
    assert mine.http.get("/ui/me").status_code == 401


def test_a_steward_cannot_open_what_only_ml_engineers_may(served: Served, tmp_path: Path) -> None:
    dataset_on_record(served, tmp_path)
    steward = sign_in(served, "steward")
    assert steward.http.get("/ui/datasets").status_code == 200  # the list, as GET /v1/datasets
    for path in (f"/ui/datasets/{DS}", f"/ui/datasets/{DS}/files/README.md", f"/ui/datasets/{DS}/episodes",
                 f"/ui/datasets/{DS}/episodes/{EPISODE}", f"/ui/datasets/{DS}/episodes/{EPISODE}/steps/0.png"):
        r = steward.http.get(path)
        assert r.status_code == 403 and "ml_engineer" in r.text, path
    engineer = sign_in(served, "ml_engineer")
    assert engineer.http.get(f"/ui/datasets/{DS}/files/README.md").content == b"card"


ROLES = ("contributor", "other_contributor", "steward", "ml_engineer", "auditor", "anonymous")
SELF = {"contributor": 200, "other_contributor": 200}
SIGNED = {r: 200 for r in ROLES if r != "anonymous"}
PUBLIC = {("GET", "/ui/sign-in"), ("POST", "/ui/sign-in"), ("GET", "/static/{name}"), ("GET", "/ui/assets/{name}"),
          ("GET", "/ui/{rest:path}")}  # the last: a page saying there is no such page
STEP = f"/ui/datasets/{DS}/episodes/{EPISODE}/steps/0.png"
# (method, path, form, {role: status}); a role not named gets 403, or 401 when not signed in.
MATRIX: list[tuple[str, str, dict[str, str] | None, dict[str, int]]] = [
    ("GET", "/ui", None, SIGNED),
    ("GET", "/ui/me", None, SELF),
    ("GET", "/ui/policy", None, {"steward": 200}),
    ("POST", "/ui/policy/preview", None, {"steward": 200}),  # the policy goes as a file upload
    ("POST", "/ui/policy/publish", {"toml": POLICY}, {"steward": 200}),
    ("GET", "/ui/enrol-codes", None, {"steward": 200}),
    ("POST", "/ui/enrol-codes", {"role": "contributor"}, {"steward": 200}),
    ("GET", "/ui/devices", None, {"steward": 200}),
    ("POST", "/ui/devices/{spare}/revoke", {}, {"steward": 200}),
    ("GET", "/ui/regions", None, {"steward": 200}),
    ("POST", "/ui/regions", {"region": "DE", "dpia_ref": "DPIA-1"}, {"steward": 200}),
    ("GET", "/ui/retention", None, {"steward": 200}),
    ("POST", "/ui/retention", {}, {"steward": 200}),
    ("GET", "/ui/fleet", None, {"steward": 200}),
    ("GET", "/ui/datasets", None, {"steward": 200, "ml_engineer": 200}),
    ("POST", "/ui/datasets", {"format": "jsonl"}, {"steward": 409}),  # fewer than 10 people: refused
    ("POST", f"/ui/datasets/{DS}/rebuild", {}, {"steward": 409}),
    ("GET", f"/ui/datasets/{DS}", None, {"ml_engineer": 200}),
    ("GET", f"/ui/datasets/{DS}/files/README.md", None, {"ml_engineer": 200}),
    ("GET", f"/ui/datasets/{DS}/episodes", None, {"ml_engineer": 200}),
    ("GET", f"/ui/datasets/{DS}/episodes/{EPISODE}", None, {"ml_engineer": 200}),
    ("GET", STEP, None, {"ml_engineer": 200}),
    ("GET", STEP + "?size=thumb", None, {"ml_engineer": 200}),
    ("GET", "/ui/audit", None, {"auditor": 200}),
    ("POST", "/ui/sign-out", {}, SIGNED),  # last: it ends each caller's session
]


def test_every_role_gets_exactly_the_specified_answer_on_every_console_route(served: Served, tmp_path: Path) -> None:
    dataset_on_record(served, tmp_path)
    spare = enrol(served, "contributor")["device_id"]
    devices = {r: enrol(served, "contributor")["device_id"] for r in ("contributor", "other_contributor")}
    browsers: dict[str, Browser | None] = {
        r: sign_in(served, "contributor" if r in devices else r, devices.get(r)) if r != "anonymous" else None
        for r in ROLES}
    anonymous = served.client()
    for method, path, form, allowed in MATRIX:
        for role in ROLES:
            b = browsers[role]
            http = b.http if b else anonymous
            url = path.format(spare=spare)
            if method == "GET":
                r = http.get(url)
            elif path == "/ui/policy/preview":
                r = http.post(url, data={"csrf": b.csrf if b else ""},
                              files={"file": ("policy.toml", io.BytesIO(POLICY.replace('"1"', '"2"').encode()))})
            else:
                r = http.post(url, data={"csrf": b.csrf if b else "", **(form or {})})
            expected = allowed.get(role, 401 if role == "anonymous" else 403)
            assert r.status_code == expected, f"{role} {method} {url}: {r.status_code}, expected {expected}"
            if expected == 200 and method == "GET" and "text/html" in r.headers["content-type"]:
                assert csrf_in(r.text) == b.csrf if b else True  # every page carries its own session's token
            assert "Traceback" not in r.text

    routes = {(m, route.path) for route in served.server.config.app.routes  # type: ignore[attr-defined]
              for m in getattr(route, "methods", ()) if route.path.startswith(("/ui", "/static"))}
    covered = {(m, p.replace(DS, "{dataset_id}").replace(f"{EPISODE}/steps/0.png", "{episode_id}/steps/{step}.png")
                .replace(EPISODE, "{episode_id}").replace("README.md", "{name:path}").replace("?size=thumb", "")
                .replace("{spare}", "{device_id}")) for m, p, *_ in MATRIX}
    assert routes - {("HEAD", p) for _, p in routes} - covered - PUBLIC == set()
    anonymous.close()


def test_refusals_are_pages_with_one_line_and_no_traceback(served: Served) -> None:
    steward = sign_in(served, "steward")
    assert steward.post("/ui/policy/publish", {"toml": POLICY}).status_code == 200
    changed = POLICY.replace('["XTerm"]', '["XTerm", "Mousepad"]')  # the same version, other content
    refused = steward.post("/ui/policy/publish", {"toml": changed})
    assert refused.status_code == 409 and "raise its version" in refused.text
    assert "Mousepad" in refused.text and "Publish 1" in refused.text  # the preview stays, nothing lost
    assert Policies(store=served.store).current() == ("1", {"version": "1", "designated_apps": ["XTerm"]})
    bad = steward.http.post("/ui/policy/preview", data={"csrf": steward.csrf},
                            files={"file": ("p.toml", io.BytesIO(b"version = \n"))})
    assert bad.status_code == 400 and "not valid TOML" in bad.text and "Traceback" not in bad.text
    assert 'type="file"' in bad.text  # the form is there again to choose a corrected file
    no_file = steward.post("/ui/policy/preview")
    assert no_file.status_code == 400 and "file" in no_file.text
    bad_region = steward.post("/ui/regions", {"region": "no spaces", "dpia_ref": "x"})
    assert bad_region.status_code == 400 and "region" in bad_region.text
    unknown = steward.http.get(f"/ui/datasets/{secrets.token_hex(8)}/rebuild")  # a POST-only address
    assert unknown.status_code == 404 and "the console has no page" in unknown.text
    assert steward.http.get("/ui/nothing-here").headers["content-type"].startswith("text/html")
    assert steward.post("/ui/enrol-codes", {"role": "superuser"}).status_code == 400
    auditor = sign_in(served, "auditor")
    bad_time = auditor.http.get("/ui/audit", params={"since": "yesterday"})
    assert bad_time.status_code == 400 and "From must be a date and time" in bad_time.text
