"""The step viewer on a 500-step episode: time to first paint and the bytes the page loads,
against the same page with every step's full screenshot loaded eagerly, in one run.

A synthetic session (a click and a typing burst per step, each step's pre-action frame stored
as keyframe + crops) is written through the real encrypted store; the review app is served on
127.0.0.1 by uvicorn and loaded in Debian's Chromium under Playwright with an empty cache, a
fresh server (so nothing is cached in memory) for each page. The baseline is the page the
server rendered with each lazy thumbnail replaced by its full PNG, eager (Playwright serves
the rewritten document; the product has no such mode).

    .venv/bin/python bench/viewer.py [--steps 500]
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from playwright.sync_api import Route, sync_playwright

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.frame_codec import FrameEncoder
from deskscribe.keystore import FileKeyBackend
from deskscribe.outbox import Outbox
from deskscribe.redact.text import Redacted
from deskscribe.web.guard import Guard, loopback_host
from deskscribe.web.review_app import create_app

W, H = 1280, 800
MS = 1_000_000
CHROMIUM = "/usr/bin/chromium"


def make_session(dd: DataDir, steps: int, rng: random.Random) -> str:
    """An office-like session: a page of text grows; each step a click then a few keys."""
    sid = dd.new_session_id()
    meta = SessionMeta(session_id=sid, contributor_id="bench", started_wall_ns=0, os="Linux",
                       monitors=(Monitor(0, 0, W, H),), double_click_ms=400, double_click_px=5,
                       policy_version="bench", recorder_version="bench")
    screen = np.zeros((H, W, 4), np.uint8)
    screen[40:760, 40:1240, :3] = 250
    encoder = FrameEncoder()
    t = 0
    with dd.create(meta) as w:
        w.add_event(Event(t, "marker", {"marker": "start"}))
        w.add_event(Event(t, "focus", {"app": "Writer", "title": "report", "pid": 1, "geometry": [0, 0, W, H],
                                       "url": None}))
        for i in range(steps // 2):
            x, y = rng.randrange(60, 1200), rng.randrange(60, 740)
            row = 60 + (i % 44) * 16
            screen[row:row + 12, 60:60 + rng.randrange(200, 1100), :3] = rng.randrange(0, 120)
            for kind in ("click", "type"):
                t += 700 * MS
                fid = w.reserve_frame_id()
                w.add_frame(encoder.encode(fid, t, screen.copy()))
                w.add_event(Event(t, "frame", {"frame_id": fid, "region": [0, 0, W, H],
                                               "reason": "pre_action"}))
                t += 50 * MS
                if kind == "click":
                    w.add_event(Event(t, "mouse_down", {"x": x, "y": y, "button": "left", "mods": []}))
                    t += 60 * MS
                    w.add_event(Event(t, "mouse_up", {"x": x, "y": y, "button": "left"}))
                else:
                    w.add_event(Event(t, "text", {"text": f"line {i}", "kinds": [], "secure": False,
                                                  "erase": 0, "t_end_ns": t + 200 * MS}))
                    t += 200 * MS
            if i % 100 == 99:
                w.flush()
        w.add_event(Event(t + MS, "marker", {"marker": "stop"}))
    return sid


class Server:
    """A fresh review app (nothing cached) on a free loopback port, signed in by cookie."""

    def __init__(self, dd: DataDir) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.host = loopback_host(self.sock.getsockname()[1])
        self.guard = Guard()
        self.login = f"http://{self.host}/login?token={self.guard.login_token}"
        app = create_app(datadir=dd, outbox=Outbox(root=dd.root), guard=self.guard, host=self.host,
                         scan=lambda text: Redacted(text, (), ()), send=lambda sid, progress: None)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def eager(html: str) -> str:
    """The baseline: every thumbnail is the full screenshot, loaded at once."""
    html = re.sub(r'src="(/sessions/[^"]+)\.webp\?', r'src="\1.png?', html)
    return html.replace(' loading="lazy"', "")


MEASURE = """() => new Promise(done => {
  const report = () => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    done({fcp_ms: paint ? paint.startTime : null, load_ms: nav.loadEventEnd,
          idle_ms: Math.max(nav.loadEventEnd, ...res.map(r => r.responseEnd)),
          bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
          images: res.filter(r => r.initiatorType === 'img').length,
          full: res.filter(r => r.name.includes('.png')).length});
  };
  if (document.readyState === 'complete') report();
  else addEventListener('load', report);
})"""


def measure(dd: DataDir, sid: str, rewrite: Callable[[str], str] | None) -> dict[str, Any]:
    server = Server(dd)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script("performance.setResourceTimingBufferSize(100000)")  # default: 250
            page.goto(server.login)
            url = f"http://{server.host}/sessions/{sid}/episodes/1"
            if rewrite is not None:
                def serve(route: Route) -> None:
                    response = route.fetch()
                    route.fulfill(response=response, body=rewrite(response.text()))
                page.route(url, serve)
            started = time.perf_counter()
            page.goto(url, wait_until="load", timeout=600_000)
            page.wait_for_load_state("networkidle", timeout=600_000)  # lazy images near the viewport too
            wall_s = time.perf_counter() - started
            out: dict[str, Any] = page.evaluate(MEASURE)
            out["wall_load_s"] = wall_s
            out["steps"] = page.locator("[data-step]").count()
            browser.close()
        return out
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dd = DataDir(root=Path(tmp), key_backend=FileKeyBackend(path=Path(tmp) / "contributor.key"))
        sid = make_session(dd, args.steps, random.Random(7))
        viewer = measure(dd, sid, None)
        baseline = measure(dd, sid, eager)
    print(f"episode of {viewer['steps']} steps ({W}x{H} screenshots)")
    for name, m in (("viewer (thumbnails, lazy)", viewer), ("baseline (all full PNGs, eager)", baseline)):
        print(f"  {name:32s} first paint {m['fcp_ms']:6.0f} ms   load event {m['load_ms']:7.0f} ms"
              f"   last byte {m['idle_ms']:7.0f} ms   {m['bytes'] / 1024:7.0f} KiB"
              f"   {m['images']:3d} images ({m['full']} full)")
    print(f"  ratio baseline/viewer: first paint {baseline['fcp_ms'] / viewer['fcp_ms']:.1f}x,"
          f" last byte {baseline['idle_ms'] / viewer['idle_ms']:.1f}x,"
          f" bytes {baseline['bytes'] / viewer['bytes']:.1f}x")


if __name__ == "__main__":
    main()
