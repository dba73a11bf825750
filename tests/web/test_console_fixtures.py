"""What the console tests share: signing a client in through a real link, contributors whose
sessions carry screenshots, a built dataset on record, and axe-core checks of a page."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from deskscribe.client import CollectorClient
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.schema import datasets
from deskscribe.collector.ui.sign_in import SignIns
from deskscribe.datadir import DataDir
from deskscribe.envelope import wrap_key
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.frame_codec import FramePart, FrameRecord
from deskscribe.keystore import FileKeyBackend
from deskscribe.upload import Uploader
from tests.support import Served, enrol

MS = 1_000_000
W, H = 1000, 500
AXE = Path(__file__).parents[2] / "extension-tests" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path("/tmp/console-shots")
DS = "c0c0c0c0c0c0c0c0"  # a dataset on record for the route matrix (its build is tested elsewhere)
EPISODE = "ep-matrix"


@dataclass
class Browser:
    """An HTTP client holding a console session cookie, and that session's CSRF token."""

    http: httpx.Client
    csrf: str

    def post(self, path: str, data: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.csrf, **(data or {})}, **kw)


def csrf_in(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(served: Served, role: str, device_id: str | None = None) -> Browser:
    link = SignIns(store=served.store).create_link(role, device_id=device_id, actor="test")
    http = served.client()
    r = http.post("/ui/sign-in", data={"link": link})
    assert r.status_code == 303, r.text
    home = http.get(r.headers["location"])
    assert home.status_code == 200, home.text
    return Browser(http, csrf_in(home.text))


def screenshot(colour: str, label: str) -> bytes:
    im = Image.new("RGB", (W, H), colour)
    draw = ImageDraw.Draw(im)
    draw.rectangle((80, 180, 300, 240), outline="black", width=4)
    draw.text((100, 200), label, fill="black")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def framed_session(dd: DataDir, text: str) -> str:
    """A task with two screenshots: a click on a button, then typing into the field it opened."""
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=1_700_000_000 * 10**9,
                              os="Linux", monitors=(Monitor(0, 0, W, H),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    w.add_event(Event(t_ns=10 * MS, kind="focus", data={"app": "XTerm", "title": "notes", "pid": 1,
                                                        "geometry": [0, 0, W, H]}))
    w.add_event(Event(t_ns=20 * MS, kind="marker", data={"marker": "task_start", "instruction": f"Write {text}"}))

    def frame(fid: int, t: int, colour: str) -> None:
        w.reserve_frame_id()
        w.add_frame(FrameRecord(fid, t * MS, None, (W, H), (FramePart(0, 0, W, H, screenshot(colour, text)),)))
        w.add_event(Event(t_ns=t * MS, kind="frame", data={"frame_id": fid, "reason": "click", "region": [0, 0, W, H]}))

    frame(1, 50, "white")
    w.add_event(Event(t_ns=100 * MS, kind="mouse_down", data={"x": 190, "y": 210, "button": "left"}))
    w.add_event(Event(t_ns=150 * MS, kind="mouse_up", data={"x": 190, "y": 210, "button": "left"}))
    frame(2, 600, "lightyellow")
    for i, ch in enumerate(text):
        t = (1000 + 80 * i) * MS
        w.add_event(Event(t_ns=t, kind="key_down", data={"key": ch, "char": ch, "vk": 0, "mods": []}))
        w.add_event(Event(t_ns=t + 30 * MS, kind="key_up", data={"key": ch, "char": ch, "vk": 0, "mods": []}))
    w.add_event(Event(t_ns=5000 * MS, kind="marker", data={"marker": "task_end", "status": "success"}))
    w.close(seal=True)
    return sid


def crowd(served: Served, tmp: Path, n: int) -> list[dict[str, str]]:
    """``n`` contributors who each uploaded one framed session and deposited their key."""
    out = []
    for i in range(n):
        root = tmp / f"person{i}"
        dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
        sid = framed_session(dd, f"canary{i:02d}")
        who = enrol(served)
        with served.client(who["token"]) as c:
            client = CollectorClient(http=c)
            Uploader(client=client).upload(sid, dd.path_of(sid))
            client.deposit_key(wrap_key(dd.data_key(), recipient=base64.b64decode(who["collector_key"]),
                                        contributor=who["contributor_id"]))
        out.append({**who, "session": sid})
    return out


def dataset_on_record(served: Served, tmp: Path) -> None:
    """A ready jsonl dataset with one episode of one step and its screenshot."""
    staged = tmp / "staged"
    (staged / "images" / EPISODE).mkdir(parents=True)
    (staged / "README.md").write_text("card")
    (staged / "images" / EPISODE / "0000.png").write_bytes(screenshot("white", "matrix"))
    row = {"episode_id": EPISODE, "step": 0, "instruction": "Press Save", "image": f"images/{EPISODE}/0000.png",
           "app": "XTerm", "screen": {"w": W, "h": H}, "action": {"type": "click", "x": 0.19, "y": 0.42,
                                                                   "button": "left"}, "target": None}
    (staged / "steps.jsonl").write_text(json.dumps(row) + "\n")
    wrapped = DatasetBuilds(store=served.store).seal_files(DS, staged)
    with served.store.engine.begin() as c:
        c.execute(datasets.insert().values(id=DS, fmt="jsonl", precision_ms=100, state="ready", created_ns=served.store.wall_ns(),
                                           contributors=10, sessions=10, episodes=1, steps=1, bytes=1, key=wrapped))


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document)).violations"
                           ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                           ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
    return list(result)


def capture(page: Any, name: str) -> None:
    """Every page is checked with axe and kept as a 1280x800 screenshot for a person to look at."""
    assert serious_violations(page) == [], f"{name}: {serious_violations(page)}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
