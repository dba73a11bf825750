"""The text a designated app shows, read from the accessibility bus instead of its pixels.

Where keyboard focus is in a widget that exposes AT-SPI ``Text`` (GTK text views and entries,
VTE terminals, LibreOffice), this source reads the widget's text, scans it with the same
detectors as typing, and boxes each finding with ``GetRangeExtents``: exact boxes, and no OCR
over the widget. Reads happen on this source's own thread once the text has been still for
``settle_ns``; a frame only looks the last reading up.

A reading describes a frame only if nothing that could change the widget's pixels happened
between the moment the text was last changed before the read and the frame's moment: no text
change, focus change, key, click or scroll in the app's window, and the window where it was.
Anything else is not described and OCR reads it, so a late or missing answer costs time,
never a leak. Text-change signals and the read's replies come over one connection, so any
change the app made before it answered the read is seen before the answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from deskscribe.capture.atspi import open_accessibility_bus
from deskscribe.capture.atspi_targets import ROOT_PATH, SCREEN, Bus, Node
from deskscribe.capture.base import WindowInfo
from deskscribe.context import NoContext, VisibleText
from deskscribe.errors import AccessibilityUnavailable
from deskscribe.geometry import Rect, intersect
from deskscribe.redact.text import Finding

READ_S = 0.25  # a read slower than this is abandoned
SETTLE_NS = 150_000_000  # an app has repainted a change by then
MAX_CHARS = 100_000  # a longer text is left to OCR rather than scanned on every change
PAD_PX = 1  # antialiasing spills past a glyph's box
TEXT = "org.a11y.atspi.Text"
FOCUSED, SHOWING = 12, 25  # AtspiStateType bits
MAX_NODES = 3000  # a tree searched for the focused widget further than this is left to OCR
# Caret moves and layout changes come with a key, click or scroll, which reach the source as
# actions; asking the bus for them too would parse a dozen signals per keystroke.
EVENTS = (("object:state-changed:focused", "StateChanged", "focused"),
          ("object:text-changed", "TextChanged", None))


class Scanner(Protocol):
    def scan(self, text: str) -> list[Finding]: ...


@dataclass(frozen=True, slots=True)
class Reading:
    """What the focused text widget showed, stable from ``stable_ns`` until at least the read."""

    pid: int
    geometry: tuple[int, int, int, int]  # the window, where the widget was read in it
    region: Rect
    boxes: tuple[Rect, ...]
    stable_ns: int


@dataclass(frozen=True, slots=True)
class Placed:
    """Where one reading placed its findings: the next reading asks the app again only for
    findings whose paragraph, or the view around them, changed since."""

    text: str
    region: Rect
    first: int  # the offset of the first character shown
    anchor: tuple[int, ...]  # that character's extents: the same only if nothing scrolled
    boxes: dict[tuple[int, int], Rect]  # (start, end) -> box before clipping to the region


def read_text(bus: Bus, node: Node, scanner: Scanner, deadline: float, before: Placed | None = None
              ) -> tuple[Rect, list[Rect], Placed] | None:
    """(the widget's extents, boxes of every finding in its text, where they were placed) in
    screen pixels; None when it holds no text this source may vouch for. With ``before``, a
    finding in a paragraph that is unchanged, as is everything above it, in an unscrolled view
    keeps its box: the layout of text depends only on the text before it."""
    chars = int(_prop(bus, node, "CharacterCount", deadline))
    if chars > MAX_CHARS:
        return None
    region = bus.extents(node, deadline)
    if region.width <= 0 or region.height <= 0:
        return None
    text = str(bus.call(*node, TEXT, "GetText", deadline, "ii", (0, chars)))
    (lo, hi), first = _shown_lines(bus, node, text, region, deadline)
    anchor = () if first < 0 else tuple(int(v) for v in bus.reply(*node, TEXT, "GetCharacterExtents",
                                                                    deadline, "iu", (first, SCREEN)))
    unchanged = 0  # text[:unchanged] is laid out exactly as in ``before``
    if before is not None and first >= 0 and (before.region, before.first, before.anchor) == (
            region, first, anchor):
        unchanged = _common_prefix(text, before.text)
    placed: dict[tuple[int, int], Rect] = {}
    start = 0
    for line in text.split("\n"):  # one scan per line: what a person sees as a line
        end = start + len(line)
        for f in scanner.scan(line):
            span = (start + f.start, start + f.end)
            if not lo <= span[0] <= hi:
                continue  # on a line scrolled out of view: no call to place it
            kept = before.boxes.get(span) if before is not None and end < unchanged else None
            box = kept or _place(bus, node, span, deadline)
            if box is None:
                return None  # the toolkit cannot place it: it might be on screen
            placed[span] = box
        start = end + 1
    boxes = [b for b in (intersect(b, region) for b in placed.values()) if b.width > 0 and b.height > 0]
    return region, boxes, Placed(text, region, first, anchor, placed)


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix, by halving (string slices compare in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _place(bus: Bus, node: Node, span: tuple[int, int], deadline: float) -> Rect | None:
    x, y, w, h = (int(v) for v in bus.reply(*node, TEXT, "GetRangeExtents", deadline, "iiu", (*span, SCREEN)))
    if w <= 0 or h <= 0:
        return None
    return Rect(x - PAD_PX, y - PAD_PX, w + 2 * PAD_PX, h + 2 * PAD_PX)


def _shown_lines(bus: Bus, node: Node, text: str, region: Rect, deadline: float
                 ) -> tuple[tuple[int, int], int]:
    """(first and last offset of the lines the widget shows, the offset at its top-left corner),
    from the characters at its corners widened to whole lines (a line scrolled sideways is
    still a shown line); the whole text and -1 when the toolkit cannot say."""
    corners = [int(bus.call(*node, TEXT, "GetOffsetAtPoint", deadline, "iiu", (x, y, SCREEN)))
               for x, y in ((region.x, region.y),
                            (region.x + region.width - 1, region.y + region.height - 1))]
    if min(corners) < 0 or corners[0] > corners[1]:
        return (0, len(text)), -1
    end = text.find("\n", corners[1])
    return (text.rfind("\n", 0, corners[0]) + 1, len(text) if end < 0 else end), corners[0]


def focused_in(bus: Bus, app: str, deadline: float) -> Node | None:
    """The accessible of ``app`` that has keyboard focus, searched through what is showing:
    focus that moved before this source started sent no signal it could have seen."""
    todo: list[Node] = [(app, ROOT_PATH)]
    for _ in range(MAX_NODES):
        if not todo:
            return None
        node = todo.pop()
        state = int(bus.acc(node, "GetState", deadline)[0])
        if state >> FOCUSED & 1:
            return node
        if state >> SHOWING & 1 or node[1] == ROOT_PATH:
            todo += [(str(n), str(p)) for n, p in reversed(bus.acc(node, "GetChildren", deadline))]
    return None


def _prop(bus: Bus, node: Node, name: str, deadline: float) -> Any:
    value = bus.call(*node, "org.freedesktop.DBus.Properties", "Get", deadline, "ss", (TEXT, name))
    return value[1] if isinstance(value, tuple) else value


class AccessibleText(NoContext):
    """Describes the focused text widget of designated apps (``wanted``); no other app's text
    is ever read."""

    def __init__(self, *, session_bus: str, scanner: Scanner,
                 wanted: Callable[[WindowInfo], bool] = lambda w: True,
                 mono_ns: Callable[[], int] = time.monotonic_ns, read_s: float = READ_S,
                 settle_ns: int = SETTLE_NS) -> None:
        self._address = session_bus
        self._scanner = scanner
        self._wanted = wanted
        self._mono_ns = mono_ns
        self._read_s = read_s
        self._settle_ns = settle_ns
        self._lock = threading.Lock()
        self._windows: dict[int, tuple[int, int, int, int]] = {}  # pid -> geometry, designated seen
        self._apps: dict[str, int] = {}  # bus name -> pid
        self._focus: tuple[Node, int] | None = None  # the focused accessible and its pid
        self._reading: Reading | None = None
        self._placed: tuple[Node, Placed] | None = None  # the last reading's placements
        self._changed_ns = 0  # the last change that can move the focused widget's pixels
        self._first_change_ns: int | None = None  # the first since the reading was taken
        self._retry_ns = 0  # after a failed read, not before this
        self._last_pid: int | None = None  # the designated app framed last
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._conn: Any = None
        self._thread: threading.Thread | None = None
        self.readings = 0
        self.described = 0  # frames this source described
        self.missed = 0  # reads abandoned: too slow, refused, or the app went away

    def start(self) -> None:
        """Connect and subscribe; raises :class:`AccessibilityUnavailable` with the reason."""
        from jeepney import DBusAddress, MatchRule, message_bus, new_method_call

        self._conn = open_accessibility_bus(self._address)
        registry = DBusAddress("/org/a11y/atspi/registry", bus_name="org.a11y.atspi.Registry",
                               interface="org.a11y.atspi.Registry")
        rule = MatchRule(type="signal", interface="org.a11y.atspi.Event.Object")  # routes what arrives
        try:
            for event, member, detail in EVENTS:
                self._conn.send_and_get_reply(new_method_call(registry, "RegisterEvent", "s", (event,)),
                                              timeout=5)
                wanted = MatchRule(type="signal", interface="org.a11y.atspi.Event.Object", member=member)
                if detail is not None:
                    wanted.add_arg_condition(0, detail)
                self._conn.send_and_get_reply(message_bus.AddMatch(wanted), timeout=5)  # sent only these
        except Exception as exc:  # any D-Bus failure means: no accessibility here
            raise AccessibilityUnavailable(f"AT-SPI is not reachable ({exc})") from None
        self._thread = threading.Thread(target=self._run, args=(rule,), name="deskscribe-atspi-text",
                                        daemon=True)
        self._thread.start()

    # -- what the pipeline asks --------------------------------------------------------

    def visible_text(self, window: WindowInfo, mono_ns: int) -> VisibleText | None:
        if window.pid is None or not self._wanted(window):
            return None
        with self._lock:
            self._windows[window.pid] = window.geometry
            self._last_pid = window.pid
            r = self._reading
            if r is None or r.pid != window.pid:
                return None
            if r.geometry != window.geometry:  # moved or resized since the read: read it again
                self._changed_ns = max(self._changed_ns, self._mono_ns())
                self._first_change_ns = self._first_change_ns or self._changed_ns
                return None
            if mono_ns < r.stable_ns + self._settle_ns:
                return None  # the pixels of that moment may still show the text before
            if self._first_change_ns is not None and self._first_change_ns < mono_ns:
                return None
            self.described += 1
        region = intersect(r.region, Rect(*window.geometry))
        return VisibleText(region=region, boxes=r.boxes, opaque=())

    def action(self, window: WindowInfo, event: str, x: int, y: int, mono_ns: int) -> None:
        if window.pid is not None and self._wanted(window):
            self._changed(mono_ns)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._conn is not None:
            self._conn.close()

    # -- this source's thread -----------------------------------------------------------

    def _changed(self, mono_ns: int) -> None:
        with self._lock:
            self._changed_ns = max(self._changed_ns, mono_ns)
            if self._reading is not None and self._first_change_ns is None:
                self._first_change_ns = mono_ns

    def _run(self, rule: Any) -> None:
        with self._conn.filter(rule, bufsize=4000) as signals:
            while not self._stopping.is_set():
                due = self._due_s()
                wait = 0.5 if due is None else max(due, 0.001)
                try:
                    msg = self._conn.recv_until_filtered(signals, timeout=wait)
                except TimeoutError:
                    if due is None:
                        continue
                    if self._focus is None or self._focus[1] not in self._windows:
                        self._discover()
                    else:
                        self._read(signals)
                    continue
                except OSError:
                    return  # the bus went away: every frame is read by OCR
                self._signal(msg)
                while signals:
                    self._signal(signals.popleft())

    def _due_s(self) -> float | None:
        """Seconds until the focused widget should be read (or, with no focus known in a
        designated app, looked for), None when nothing is to be done."""
        with self._lock:
            if self._focus is None or self._focus[1] not in self._windows:
                if not self._windows:
                    return None
                return (self._retry_ns - self._mono_ns()) / 1e9
            if self._reading is not None and self._first_change_ns is None:
                return None
            due = max(self._changed_ns + self._settle_ns, self._retry_ns)
            return (due - self._mono_ns()) / 1e9

    def _discover(self) -> None:
        """Find the focused accessible of the designated app framed last."""
        with self._lock:
            pid = self._last_pid
            self._retry_ns = self._mono_ns() + 10 * self._settle_ns
        bus, deadline = Bus(self._conn), time.monotonic() + 4 * self._read_s
        try:
            apps = bus.acc(("org.a11y.atspi.Registry", ROOT_PATH), "GetChildren", deadline)
            for name, _ in apps:
                if str(name) not in self._apps:
                    self._apps[str(name)] = bus.pid_of(str(name), deadline)
            app = next((name for name, p in self._apps.items() if p == pid), None)
            node = None if app is None else focused_in(bus, app, deadline)
        except OSError:
            raise  # the bus went away: the thread ends
        except Exception:  # slow or refused: looked for again later
            return
        if node is not None and self._focus is None:
            self._focused(node, self._mono_ns())

    def _signal(self, msg: Any) -> None:
        from jeepney.low_level import HeaderFields

        fields = msg.header.fields
        node = (str(fields.get(HeaderFields.sender)), str(fields.get(HeaderFields.path)))
        member = fields.get(HeaderFields.member)
        now = self._mono_ns()
        if member == "StateChanged" and msg.body[0] == "focused":
            if msg.body[1]:
                self._focused(node, now)
            return
        focus = self._focus
        if focus is not None and node == focus[0]:
            self._changed(now)

    def _focused(self, node: Node, now: int) -> None:
        pid = self._apps.get(node[0])
        if pid is None:
            try:
                pid = Bus(self._conn).pid_of(node[0], time.monotonic() + self._read_s)
            except Exception:  # the app is gone or does not answer: nothing to describe
                return
            self._apps[node[0]] = pid
        with self._lock:
            self._focus = (node, pid)
            self._reading, self._first_change_ns = None, None
            self._changed_ns = max(self._changed_ns, now)

    def _read(self, signals: Any) -> None:
        focus = self._focus
        if focus is None:
            return
        node, pid = focus
        with self._lock:
            geometry = self._windows.get(pid)
            stable = self._changed_ns
        if geometry is None:
            return
        before = self._placed[1] if self._placed is not None and self._placed[0] == node else None
        try:
            found = read_text(Bus(self._conn), node, self._scanner, time.monotonic() + self._read_s, before)
        except OSError:
            raise  # the bus went away: the thread ends
        except Exception:  # no Text interface, refused, too slow or gone: OCR reads it
            found = None
            self.missed += 1
        for msg in list(signals):  # what arrived while reading: a change voids the read
            self._signal(msg)
        signals.clear()
        with self._lock:
            if self._focus != focus or self._changed_ns != stable:
                return  # changed meanwhile: read again once it settles
            self._placed = None if found is None else (node, found[2])  # only a read nothing voided
            self._first_change_ns = None
            self._reading = None if found is None else Reading(pid, geometry, found[0], tuple(found[1]),
                                                               stable)
            if found is None:
                self._retry_ns = self._mono_ns() + 10 * self._settle_ns  # ask again later, not at once
            self.readings += found is not None
