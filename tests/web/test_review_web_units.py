"""The review app's pure parts: the guard, step views, which frames a black-out covers, and
what the device removed, in words."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deskscribe.events import Event
from deskscribe.frame_codec import blacked_out
from deskscribe.geometry import Rect
from deskscribe.web.blackout import box_from_fractions, frames_showing
from deskscribe.web.guard import Guard, cookie_header, csrf_token, csrf_valid, host_allowed, loopback_host
from deskscribe.web.removed import excluded_seconds, in_words, removed_counts
from deskscribe.web.viewer import step_view, templates


def test_host_must_be_the_printed_loopback_address() -> None:
    expected = loopback_host(8123)
    assert host_allowed("127.0.0.1:8123", expected)
    for bad in (None, "", "evil.example:8123", "localhost:8123", "127.0.0.1:8124", "127.0.0.1"):
        assert not host_allowed(bad, expected), bad


def test_login_token_is_spent_on_first_use() -> None:
    tokens = iter(["login", "session-1", "session-2"])
    guard = Guard(new_token=lambda: next(tokens), key=b"k" * 32)
    assert guard.exchange("wrong") is None
    assert guard.login_token == "login"  # a wrong guess does not spend it
    assert guard.exchange("login") == "session-1"
    assert guard.exchange("login") is None
    assert guard.signed_in("session-1") and not guard.signed_in("session-2") and not guard.signed_in(None)


def test_csrf_token_is_bound_to_its_session() -> None:
    tokens = iter(["login", "s1"])
    guard = Guard(new_token=lambda: next(tokens), key=b"k" * 32)
    session = guard.exchange("login")
    assert session is not None
    good = guard.csrf_for(session)
    assert guard.csrf_ok(session, good)
    assert not guard.csrf_ok(session, None)
    assert not guard.csrf_ok(session, csrf_token(b"other key" * 4, session))
    assert not guard.csrf_ok("not-signed-in", csrf_token(b"k" * 32, "not-signed-in"))
    assert not csrf_valid(b"k" * 32, "", csrf_token(b"k" * 32, ""))
    guard.sign_out(session)
    assert not guard.csrf_ok(session, good)


def test_cookie_is_http_only_and_same_site_strict() -> None:
    header = cookie_header("abc")
    assert "HttpOnly" in header and "SameSite=Strict" in header and header.startswith("deskscribe_review=abc;")


@pytest.mark.parametrize(("action", "target", "want"), [
    ({"type": "click", "x": 0.25, "y": 0.5, "button": "right", "count": 1, "keys": ["shift"]}, None,
     {"x": 0.25, "y": 0.5, "button": "right", "caption": "held shift", "scroll": None}),
    ({"type": "type", "text": "hello <EMAIL_ADDRESS>"}, {"role": "entry", "name": "To", "bbox": [0.1, 0.2, 0.3, 0.4]},
     {"caption": "hello <EMAIL_ADDRESS>", "target_box": (0.1, 0.2, 0.3, 0.4), "target_label": "entry To"}),
    ({"type": "key", "keys": ["ctrl", "c"]}, None, {"caption": "ctrl+c", "x": None}),
    ({"type": "scroll", "x": 0.5, "y": 0.5, "dx": 0, "dy": -3}, None, {"scroll": (0, -3)}),
    ({"type": "drag", "x": 0.1, "y": 0.1, "x2": 0.9, "y2": 0.8, "button": "left"}, None,
     {"path": ((0.1, 0.1), (0.9, 0.8))}),
    ({"type": "click", "x": 1.7, "y": -2}, None, {"x": 1.0, "y": 0.0}),
])
def test_step_view_from_export_shaped_actions(action: dict[str, object], target: dict[str, object] | None,
                                              want: dict[str, object]) -> None:
    view = step_view(3, action, target, image_url="/i.png", thumb_url="/t.webp", width=1280, height=800)
    assert view.index == 3 and view.action == action["type"]
    for key, value in want.items():
        assert getattr(view, key) == value, key


def test_viewer_macro_renders_only_the_first_full_image_and_lazy_thumbnails() -> None:
    steps = [step_view(i, {"type": "click", "x": 0.5, "y": 0.5, "button": "left"}, None,
                       image_url=f"/full/{i}.png", thumb_url=f"/thumb/{i}.webp", width=640, height=400)
             for i in range(1, 51)]
    env = templates().env
    html = env.from_string('{% from "viewer.html" import step_viewer %}{{ step_viewer(steps, "Ep") }}'
                           ).render(steps=steps)
    assert html.count('src="/full/') == 1 and html.count('data-image="/full/') == 50
    assert html.count('loading="lazy"') == 50 and html.count("data-overlay=") == 50


def test_black_out_covers_frames_showing_the_same_pixels() -> None:
    base = np.full((100, 200, 3), 255, np.uint8)
    base[10:20, 10:90] = 0  # the secret line
    chosen = Image.fromarray(base)
    moved = base.copy()
    moved[:] = 128  # another window over it
    later = base.copy()
    later[60:70, 10:90] = 0  # more text elsewhere; the secret line still there
    box = box_from_fractions(0.04, 0.08, 0.5, 0.22, 200, 100)
    assert box == Rect(8, 8, 92, 14)
    frames = [(1, chosen), (2, Image.fromarray(moved)), (3, Image.fromarray(later)),
              (4, Image.new("RGB", (100, 50)))]
    assert frames_showing(box, chosen, frames) == [1, 3]
    assert frames_showing(box, chosen, frames, everywhere=True) == [1, 2, 3]
    painted = np.asarray(blacked_out(chosen, [box]))
    assert not painted[8:22, 8:100].any() and (painted[30:] == base[30:]).all()


def test_removed_counts_in_words() -> None:
    events = [
        (1, Event(0, "text", {"text": "<EMAIL_ADDRESS> and <EMAIL_ADDRESS>", "kinds": ["EMAIL_ADDRESS"],
                              "secure": False, "erase": 0, "t_end_ns": 1})),
        (2, Event(1, "text", {"text": "<PASSWORD>", "kinds": ["PASSWORD"], "secure": True, "erase": 0, "t_end_ns": 2})),
        (3, Event(2, "text", {"text": "jane@example.org", "kinds": ["EMAIL_ADDRESS"], "secure": False, "erase": 0,
                              "t_end_ns": 3})),  # synthetic values leave no placeholder
        (4, Event(3, "focus", {"app": "x", "title": "Mail <PHONE_NUMBER>", "pid": 1, "geometry": [], "url": None})),
        (5, Event(4, "focus", {"app": "x", "title": "Mail <PHONE_NUMBER>", "pid": 1, "geometry": [], "url": None})),
        (6, Event(5, "marker", {"marker": "excluded", "duration_ms": 65_000})),
    ]
    counts = removed_counts(events)
    assert counts == {"EMAIL_ADDRESS": 3, "PASSWORD": 1, "PHONE_NUMBER": 1}
    assert in_words(counts) == "3 e-mail addresses, 1 password, 1 phone number"
    assert in_words({}) == "nothing"
    assert excluded_seconds(events) == 65.0


def test_screenshots_are_small_thumbnails_and_never_stale_after_a_rewrite(tmp_path: Path) -> None:
    from deskscribe.datadir import DataDir
    from deskscribe.keystore import FileKeyBackend
    from deskscribe.outbox import Outbox
    from deskscribe.web.changes import black_out
    from deskscribe.web.images import Screenshots
    from deskscribe.web.review_app import session_version
    from tests.web.conftest import synthetic_session

    sid = synthetic_session(tmp_path, steps=4)
    dd = DataDir(root=tmp_path, key_backend=FileKeyBackend(path=tmp_path / "contributor.key"))
    shots = Screenshots(open_session=dd.open, version=lambda s: session_version(dd, s))
    with dd.open(sid) as reader:
        last = reader.frame_ids()[-1]
    full = Image.open(io.BytesIO(shots.png(sid, last)))
    thumb = Image.open(io.BytesIO(shots.thumb(sid, last)))
    assert full.format == "PNG" and full.size == (640, 400)
    assert thumb.format == "WEBP" and thumb.size == (160, 100)
    assert len(shots.thumb(sid, last)) < len(shots.png(sid, last)) / 5
    area = Rect(40, 40, 160, 12)  # the first line, on screen in every frame after it appeared
    assert np.asarray(full.convert("RGB"))[40:52, 40:200].any()
    shots.forget(sid)
    done = black_out(dd, Outbox(root=tmp_path), sid, last, area)
    assert done.frames == 4 and not done.reapprove
    again = np.asarray(Image.open(io.BytesIO(shots.png(sid, last))).convert("RGB"))
    assert not again[40:52, 40:200].any() and again[60:72, 40:200].any()
    shots.close()
