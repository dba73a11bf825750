"""The browser as a context source: which page is in front, and is it a designated one?

The extension (``browser/extension``) reports the focused browser window through the native
messaging host and the control socket. This source keeps the latest report per connection and
answers the pipeline: a browser window is designated only while a fresh report from an
extension speaking our protocol vouches for a designated URL in a normal (not private) window
whose bounds match the X window in front. Everything else — no extension, a stale or
malformed report, another window, a private window — leaves the browser excluded like any
other app. Reports never widen capture: the URL is checked against the policy again here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from deskscribe.browser.page import PageText, ScanCache, page_text
from deskscribe.browser.reports import Report, TargetReport, parse_message
from deskscribe.capture.base import Rect, WindowInfo
from deskscribe.context import NoContext, Target, VisibleText
from deskscribe.policy import Policy
from deskscribe.redact.keystrokes import Scanner
from deskscribe.sites import strip_url

PROTOCOL = 1
FRESH_NS = 5_000_000_000  # the extension reports the focused window at least every 2 s
BOUNDS_SLACK_PX = 48  # window manager frames and rounding between the two views of a window
SNAPSHOT_WAIT_S = 0.3
EXPIRY_CHECK_S = 1.0
TARGET_KEEP_NS = 10_000_000_000  # a target not taken by then belonged to no recorded action
MAX_TARGETS = 64


class Channel(Protocol):
    """One extension's connection (see ``control.Channel``)."""

    def receive(self) -> Iterator[dict[str, Any]]: ...
    def send(self, message: dict[str, Any]) -> bool: ...


@dataclass(slots=True)
class _Connection:
    channel: Channel
    window: Report | None = None
    received_ns: int = 0
    sensitive_ns: int = -1  # when a password-like field last had focus
    sensitive_now: bool = False
    masked_ns: int = -1  # when a masked element last had focus
    masked_now: bool = False
    targets: list[tuple[int, TargetReport]] = field(default_factory=list)  # (mono ns, report)
    stale: bool = False  # its report outlived FRESH_NS and the pipeline was told
    replies: dict[int, dict[str, Any]] = field(default_factory=dict)


class BrowserSource(NoContext):
    def __init__(self, *, policy: Policy, scanner: Scanner, mono_ns: Callable[[], int] = time.monotonic_ns,
                 wall_ms: Callable[[], float] = lambda: time.time() * 1000,
                 on_change: Callable[[], None] = lambda: None, on_target: Callable[[], None] = lambda: None,
                 expiry_check_s: float = EXPIRY_CHECK_S) -> None:
        self._policy = policy
        self._expiry_check_s = expiry_check_s
        self._scanner = ScanCache(scanner=scanner)
        self._mono_ns = mono_ns
        self._wall_ms = wall_ms
        self.on_change = on_change  # set once the recorder exists: the gate decides again
        self.on_target = on_target  # likewise: the pipeline takes the new target
        self._lock = threading.Condition()
        self._conns: list[_Connection] = []
        self._request = 0
        self.dropped = 0  # malformed, oversized or unknown messages
        self._stopped = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- the control socket's stream handler (one thread per extension) -----------------

    def attach(self, channel: Channel) -> None:
        conn = _Connection(channel=channel)
        with self._lock:
            self._conns.append(conn)
            if self._watcher is None:  # started by the first extension: no thread without one
                self._watcher = threading.Thread(target=self._watch, name="deskscribe-browser-expiry",
                                                 daemon=True)
                self._watcher.start()
        channel.send(self._config())
        try:
            for raw in channel.receive():
                self._receive(conn, raw)
        finally:
            with self._lock:
                self._conns.remove(conn)
                self._lock.notify_all()
            self.on_change()

    @property
    def connected(self) -> int:
        return len(self._conns)

    def _config(self) -> dict[str, Any]:
        p = self._policy
        return {"v": PROTOCOL, "type": "config", "protocol": PROTOCOL,
                "designated_sites": list(p.designated_sites),
                "excluded_urls": list(p.excluded_urls), "keep_url_query": p.keep_url_query,
                "site_masks": [{"url": m.url, "selectors": list(m.selectors)} for m in p.site_masks]}

    def _receive(self, conn: _Connection, raw: dict[str, Any]) -> None:
        msg = parse_message(raw)
        if msg is None:
            self.dropped += 1
            return
        now = self._mono_ns()
        changed = arrived = False
        with self._lock:
            if isinstance(msg, Report):
                if msg.focused or conn.window is None or conn.window.window_id == msg.window_id:
                    before = self._vouch_key(conn)
                    conn.window, conn.received_ns = msg, now
                    changed = before != self._vouch_key(conn) or conn.stale
                    conn.stale = False
            elif isinstance(msg, TargetReport):
                if msg.sensitive:
                    conn.sensitive_ns = now
                if msg.masked:
                    conn.masked_ns = now
                if msg.event == "focus":
                    conn.sensitive_now, conn.masked_now = bool(msg.sensitive), msg.masked
                conn.targets = [*conn.targets[-(MAX_TARGETS - 1):], (self._when(msg.t_ms, now), msg)]
                arrived = True
            elif raw.get("type") == "text" and isinstance(raw.get("request"), int):
                conn.replies[raw["request"]] = raw
                self._lock.notify_all()
            elif raw.get("type") == "ping":
                conn.channel.send({"v": PROTOCOL, "type": "pong"})
        if changed:
            self.on_change()
        if arrived:
            self.on_target()

    def _when(self, t_ms: float, now: int) -> int:
        """The page's event time on the monotonic clock: the page stamps it with the wall clock,
        received a moment later; anything implausible counts as the moment it arrived."""
        ago_ns = int((self._wall_ms() - t_ms) * 1e6)
        return now - ago_ns if 0 <= ago_ns <= 2_000_000_000 else now

    @staticmethod
    def _vouch_key(conn: _Connection) -> tuple[Any, ...]:
        """What decides the gate and the kept page area: a change in any of it relays out."""
        w = conn.window
        if w is None:
            return ()
        vp = None if w.viewport is None else tuple(round(v) for v in (w.viewport.x, w.viewport.y,
                                                                        w.viewport.width, w.viewport.height))
        return (w.window_id, w.focused, w.designated, w.incognito, w.url, w.title, w.bounds, vp)

    def expire(self) -> bool:
        """Tell the pipeline once about each vouching report that went stale: an extension that
        stopped reporting while connected must not keep a page designated. True if one did."""
        now = self._mono_ns()
        with self._lock:
            lapsed = [c for c in self._conns if not c.stale and c.window is not None and c.window.designated
                      and now - c.received_ns > FRESH_NS]
            for c in lapsed:
                c.stale = True
        if lapsed:
            self.on_change()
        return bool(lapsed)

    def _watch(self) -> None:
        while not self._stopped.wait(self._expiry_check_s):
            self.expire()

    def stop(self) -> None:
        self._stopped.set()

    # -- what the pipeline asks ---------------------------------------------------------

    def _vouching(self, window: WindowInfo) -> _Connection | None:
        """The connection whose fresh report vouches for ``window``, if one does."""
        if not self._policy.is_browser(window.app):
            return None
        now = self._mono_ns()
        for conn in self._conns:
            r = conn.window
            if r is None or not r.focused or not r.designated or r.incognito or r.url is None:
                continue
            if now - conn.received_ns > FRESH_NS or not _same_bounds(r.bounds, window.geometry):
                continue
            if not _same_title(r.title, window.title):  # the window already shows another tab
                continue
            if self._policy.site_designated(r.url):
                return conn
        return None

    def designated_page(self, window: WindowInfo) -> str | None:
        """The designated page in ``window`` as it may be stored, or None: not designated."""
        with self._lock:
            conn = self._vouching(window)
            if conn is None or conn.window is None or conn.window.url is None:
                return None
            return strip_url(conn.window.url, keep_query=self._policy.keep_url_query)

    def page_area(self, window: WindowInfo) -> Rect | None:
        """Where the page is on screen: the only part of a browser window that may be kept."""
        with self._lock:
            conn = self._vouching(window)
            r = None if conn is None else conn.window
            return None if r is None else _viewport_rect(r, window)

    def page(self, window: WindowInfo, timeout_s: float = SNAPSHOT_WAIT_S) -> PageText | None:
        """The page's visible text and masks now, or None when it did not answer in time or is
        no longer designated: the caller then drops the frame."""
        with self._lock:
            conn = self._vouching(window)
            if conn is None or conn.window is None:
                return None
            self._request += 1
            request, wid, url = self._request, conn.window.window_id, conn.window.url
            asked = {"v": PROTOCOL, "type": "snapshot", "request": request, "window_id": wid}
            if not conn.channel.send(asked):
                return None
            self._lock.wait_for(lambda: request in conn.replies or conn not in self._conns, timeout=timeout_s)
            reply = conn.replies.pop(request, None)
            conn.replies.clear()
            still = self._vouching(window)
        if reply is None or still is not conn or reply.get("designated") is False:
            return None
        return page_text(reply, url=url)

    # -- the context-source questions ---------------------------------------------------

    def secret_now(self, window: WindowInfo) -> bool:
        with self._lock:
            conn = self._vouching(window)
            return conn is not None and (conn.sensitive_now or conn.masked_now)

    def secret_since(self, mono_ns: int) -> bool:
        with self._lock:
            return any(c.sensitive_now or c.sensitive_ns >= mono_ns for c in self._conns)

    def take_targets(self, window: WindowInfo) -> tuple[Target, ...]:
        """Targets from the extension vouching for ``window``, in its focused browser window;
        every buffered target is taken, so one seen elsewhere is never written later."""
        with self._lock:
            conn = self._vouching(window)
            now = self._mono_ns()
            taken: list[Target] = []
            for c in self._conns:
                if c is conn and c.window is not None:
                    taken += [_target(t, r) for t, r in c.targets
                              if r.window_id == c.window.window_id and now - t <= TARGET_KEEP_NS]
                c.targets = []
            return tuple(taken)

    def masked_since(self, mono_ns: int) -> bool:
        with self._lock:
            return any(c.masked_now or c.masked_ns >= mono_ns for c in self._conns)

    def covers(self, window: WindowInfo) -> bool:
        return self._policy.is_browser(window.app)

    def visible_text(self, window: WindowInfo, mono_ns: int = 0) -> VisibleText | None:
        """The page as last reported: the extension reports every change of the page, and a
        frame waits for a page's report (``covers``), so the moment is not needed."""
        if not self.covers(window):
            return None
        area = self.page_area(window)
        page = None if area is None else self.page(window)
        if area is None or page is None:
            return None
        return VisibleText(region=area, boxes=tuple(page.boxes(self._scanner)), masks=page.masks,
                           opaque=None if page.truncated else page.opaque)


def _target(mono_ns: int, r: TargetReport) -> Target:
    bbox = None if r.bbox is None else Rect(*(round(v) for v in r.bbox))  # x, y, w, h
    return Target(mono_ns=mono_ns, source="browser", event=r.event, role=r.role, name=r.name, bbox=bbox,
                  states=r.states, tag=r.tag, selector=r.selector, value=r.value)


def _same_bounds(bounds: tuple[int, int, int, int] | None, geometry: tuple[int, int, int, int]) -> bool:
    if bounds is None:
        return False
    return all(abs(a - b) <= BOUNDS_SLACK_PX for a, b in zip(bounds, geometry, strict=True))


def _same_title(tab_title: str | None, window_title: str | None) -> bool:
    """The X window's name starts with the reported tab's title ("<tab> - Chromium"). A tab
    switch or navigation renames the window before the extension's report arrives; until it
    does, the window's new name (another site's) must not pass as the vouched page's."""
    if not tab_title:
        return True
    return " ".join((window_title or "").split()).startswith(" ".join(tab_title.split()))


def _viewport_rect(r: Report, window: WindowInfo) -> Rect | None:
    """The page viewport in screen pixels, inside the X window: the browser's own chrome
    (tabs, address bar, bookmarks) above it is never kept."""
    if r.viewport is None:
        return None
    x, y, w, h = window.geometry
    vp = r.viewport
    left = max(x, round(vp.x))
    top = max(y, round(vp.y))
    right, bottom = min(x + w, round(vp.x + vp.width)), min(y + h, round(vp.y + vp.height))
    if right <= left or bottom <= top:
        return None
    return Rect(left, top, right - left, bottom - top)
