"""The element under each click, asked of the desktop's accessibility bus (AT-SPI).

A press is reported by RECORD before the app acts on it (toolkits act on the release), so the
lookup starts while the widget still exists. It runs on this source's own thread, never the
capture threads, and within a deadline: a slow app yields no target rather than a late one.
It speaks D-Bus through jeepney, as ``capture.atspi`` does; no library wraps the AT-SPI
Component calls without the system's GObject bindings, which a virtualenv does not see.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from deskscribe.capture.atspi import open_accessibility_bus
from deskscribe.capture.base import WindowInfo
from deskscribe.context import NoContext, Target
from deskscribe.errors import AccessibilityUnavailable
from deskscribe.geometry import Rect

LOOKUP_S = 0.25  # a target later than this after its press is not looked for
SETTLE_S = 0.1  # the widget has acted on the release by then
MAX_PENDING = 32
MAX_DEPTH = 40
NULL_PATH = "/org/a11y/atspi/null"
ROOT_PATH = "/org/a11y/atspi/accessible/root"
SCREEN = 0  # ATSPI_COORD_TYPE_SCREEN
# AtspiStateType bits worth a dataset's while; "disabled" is the absence of ENABLED.
STATE_NAMES = {4: "checked", 10: "expanded", 12: "focused", 20: "pressed", 23: "selected",
               32: "indeterminate"}
ACCESSIBLE, COMPONENT = "org.a11y.atspi.Accessible", "org.a11y.atspi.Component"
Node = tuple[str, str]  # (bus name, object path)
ENABLED = 8
FOCUS_EVENT = "object:state-changed:focused"
LABELLED_BY = 2  # AtspiRelationType
WINDOW_ROLES = frozenset({"frame", "dialog", "window", "alert", "file chooser"})


def state_names(words: Sequence[int]) -> tuple[str, ...]:
    """The AT-SPI state set (two 32-bit words) as the target's state names."""
    bits = sum(int(w) << (32 * i) for i, w in enumerate(words[:2]))
    names = [name for bit, name in sorted(STATE_NAMES.items()) if bits >> bit & 1]
    if not bits >> ENABLED & 1:
        names.append("disabled")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Warm:
    """Find the accessible application of this process before it is clicked."""

    pid: int


@dataclass(frozen=True, slots=True)
class Focus:
    """An accessible got keyboard focus: what typing after it goes into."""

    node: Node
    mono_ns: int


@dataclass(frozen=True, slots=True)
class Release:
    """The button came up: the pressed widget's states are read again once it has acted."""

    mono_ns: int


@dataclass(frozen=True, slots=True)
class Press:
    window: WindowInfo
    x: int
    y: int
    mono_ns: int


class Bus:
    """Calls on the accessibility bus, each bounded by the time left for the lookup."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def call(self, name: str, path: str, interface: str, method: str, deadline: float,
             signature: str | None = None, body: tuple[Any, ...] = ()) -> Any:
        reply = self.reply(name, path, interface, method, deadline, signature, body)
        return reply[0] if reply else None

    def reply(self, name: str, path: str, interface: str, method: str, deadline: float,
              signature: str | None = None, body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        """The reply's whole body (some AT-SPI methods return several values)."""
        from jeepney import DBusAddress, MessageType, new_method_call

        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the lookup ran out of time")
        msg = new_method_call(DBusAddress(path, bus_name=name, interface=interface), method, signature, body)
        reply = self._conn.send_and_get_reply(msg, timeout=left)
        if reply.header.message_type == MessageType.error:
            raise LookupError(str(reply.body[0]) if reply.body else "AT-SPI error")
        return tuple(reply.body)

    def acc(self, node: Node, method: str, deadline: float) -> Any:
        return self.call(*node, ACCESSIBLE, method, deadline)

    def extents(self, node: Node, deadline: float) -> Rect:
        return Rect(*(int(v) for v in self.call(*node, COMPONENT, "GetExtents", deadline, "u", (SCREEN,))))

    def at_point(self, node: Node, x: int, y: int, deadline: float) -> Node:
        name, path = self.call(*node, COMPONENT, "GetAccessibleAtPoint", deadline, "iiu", (x, y, SCREEN))
        return str(name), str(path)

    def prop(self, name: str, path: str, prop: str, deadline: float) -> Any:
        value = self.call(name, path, "org.freedesktop.DBus.Properties", "Get", deadline, "ss",
                          ("org.a11y.atspi.Accessible", prop))
        return value[1] if isinstance(value, tuple) else value

    def pid_of(self, name: str, deadline: float) -> int:
        return int(self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "GetConnectionUnixProcessID", deadline, "s", (name,)))


def lookup(bus: Bus, app: str, x: int, y: int, deadline: float) -> tuple[Target, Node] | None:
    """The deepest accessible at screen point (x, y) in the app on bus name ``app``, and its node."""
    for fname, fpath in bus.acc((app, ROOT_PATH), "GetChildren", deadline):
        node: Node = (str(fname), str(fpath))
        if not bus.extents(node, deadline).contains(x, y):
            continue
        roles = [bus.acc(node, "GetRoleName", deadline)]
        for _ in range(MAX_DEPTH):
            child = bus.at_point(node, x, y, deadline)
            if child[1] == NULL_PATH or child == node:
                break
            node = child
            roles.append(bus.acc(node, "GetRoleName", deadline))
        return Target(mono_ns=0, source="atspi", event="pointerdown", role=str(roles[-1]),
                      name=label_of(bus, node, deadline), bbox=bus.extents(node, deadline),
                      states=state_names(bus.acc(node, "GetState", deadline)),
                      selector=" > ".join(str(r) for r in roles)), node
    return None


def label_of(bus: Bus, node: Node, deadline: float) -> str:
    """Its own name, else the name of the label it is labelled by; never its text."""
    name = str(bus.prop(*node, "Name", deadline) or "")
    if not name:
        for kind, others in bus.acc(node, "GetRelationSet", deadline):
            if kind == LABELLED_BY and others:
                return str(bus.prop(str(others[0][0]), str(others[0][1]), "Name", deadline) or "")
    return name


def focused(bus: Bus, node: Node, deadline: float) -> Target:
    """The accessible that got keyboard focus: its label (its own name, else the label it is
    labelled by; never its text) and the roles from its window down."""
    name = label_of(bus, node, deadline)
    roles, up = [str(bus.acc(node, "GetRoleName", deadline))], node
    for _ in range(MAX_DEPTH):
        parent = bus.prop(*up, "Parent", deadline)
        if not parent or parent[1] in (NULL_PATH, ROOT_PATH) or roles[0] in WINDOW_ROLES:
            break
        up = (str(parent[0]), str(parent[1]))
        roles.insert(0, str(bus.acc(up, "GetRoleName", deadline)))
    return Target(mono_ns=0, source="atspi", event="focus", role=roles[-1], name=name,
                  bbox=bus.extents(node, deadline), states=state_names(bus.acc(node, "GetState", deadline)),
                  selector=" > ".join(roles))


class AccessibleTargets(NoContext):
    """Targets of presses and focus in designated apps that export accessibility. ``wanted``
    says which windows those are (a browser's page elements come from its extension); nothing
    of any other app is looked up, not even a focus."""

    def __init__(self, *, session_bus: str, wanted: Callable[[WindowInfo], bool] = lambda w: True,
                 mono_ns: Callable[[], int] = time.monotonic_ns, lookup_s: float = LOOKUP_S) -> None:
        self._address = session_bus
        self._wanted = wanted
        self._wanted_pids: set[int] = set()  # processes of designated windows seen so far
        self._mono_ns = mono_ns
        self._lookup_s = lookup_s
        self._work: queue.Queue[Press | Release | Focus | Warm | None] = queue.Queue(maxsize=MAX_PENDING)
        self._pressed: tuple[int | None, Target, Node] | None = None  # the last press's widget
        self._found: list[tuple[int | None, Target]] = []  # (the window's pid, target)
        self._lock = threading.Lock()
        self._apps: dict[int, str] = {}  # pid -> bus name of its accessible application
        self._asked: set[int] = set()  # pids looked for once; a new click asks again
        self._thread: threading.Thread | None = None
        self._bus: Bus | None = None
        self._conn: Any = None
        self._signals: Any = None  # a second connection: focus signals arrive on their own thread
        self._stopping = threading.Event()
        self.missed = 0  # presses with no target: no app, too slow, or the bus refused
        self.on_target: Callable[[], None] = lambda: None  # set once the recorder exists

    def start(self) -> None:
        """Connect; raises :class:`AccessibilityUnavailable` with the reason."""
        from jeepney import DBusAddress, MatchRule, message_bus, new_method_call

        self._conn = open_accessibility_bus(self._address)
        self._bus = Bus(self._conn)
        self._signals = open_accessibility_bus(self._address)
        registry = DBusAddress("/org/a11y/atspi/registry", bus_name="org.a11y.atspi.Registry",
                               interface="org.a11y.atspi.Registry")
        rule = MatchRule(type="signal", interface="org.a11y.atspi.Event.Object", member="StateChanged")
        try:
            self._signals.send_and_get_reply(new_method_call(registry, "RegisterEvent", "s", (FOCUS_EVENT,)),
                                             timeout=5)
            self._signals.send_and_get_reply(message_bus.AddMatch(rule), timeout=5)
        except Exception as exc:  # any D-Bus failure means: no accessibility here
            raise AccessibilityUnavailable(f"AT-SPI is not reachable ({exc})") from None
        self._thread = threading.Thread(target=self._run, name="deskscribe-atspi-targets", daemon=True)
        self._thread.start()
        listen = threading.Thread(target=self._listen, args=(rule,), name="deskscribe-atspi-focus",
                                  daemon=True)
        listen.start()

    def _listen(self, rule: Any) -> None:
        from jeepney.low_level import HeaderFields

        last: Node | None = None
        with self._signals.filter(rule, bufsize=1000) as signals:
            while not self._stopping.is_set():
                try:
                    msg = self._signals.recv_until_filtered(signals, timeout=0.5)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if msg.body[0] == "focused" and msg.body[1]:
                    fields = msg.header.fields
                    node = (str(fields.get(HeaderFields.sender)), str(fields.get(HeaderFields.path)))
                    if node == last:  # toolkits repeat a focus; one target says it
                        continue
                    last = node
                    try:
                        self._work.put_nowait(Focus(node, self._mono_ns()))
                    except queue.Full:
                        self.missed += 1

    def action(self, window: WindowInfo, event: str, x: int, y: int, mono_ns: int) -> None:
        if event not in ("pointerdown", "pointerup") or not self._wanted(window):
            return
        try:
            item = Press(window, x, y, mono_ns) if event == "pointerdown" else Release(mono_ns)
            self._work.put_nowait(item)
        except queue.Full:
            self.missed += 1

    def take_targets(self, window: WindowInfo) -> tuple[Target, ...]:
        """Asked after every input: an app not yet known is looked up now, before its first
        click, so that click's lookup makes only the calls on the widget itself."""
        with self._lock:
            found, self._found = self._found, []
        if not self._wanted(window):
            return ()
        pid = window.pid
        if pid is not None:
            self._wanted_pids.add(pid)
        if pid is not None and pid not in self._apps and pid not in self._asked:
            self._asked.add(pid)
            try:
                self._work.put_nowait(Warm(pid))
            except queue.Full:
                self._asked.discard(pid)
        return tuple(t for pid, t in found if pid == window.pid)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._work.put(None)
            self._thread.join(timeout=2)
        for conn in (self._conn, self._signals):
            if conn is not None:
                conn.close()

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            if isinstance(item, Warm):
                self._warm(item.pid)
                continue
            deadline = time.monotonic() + self._lookup_s - max(0, self._mono_ns() - item.mono_ns) / 1e9
            try:
                found = self._found_for(item, deadline)
            except OSError:
                return  # the bus went away: no more targets
            except Exception:  # the app closed, refused or did not answer in time
                found = None
            if found is None:
                self.missed += isinstance(item, Press)
                continue
            with self._lock:
                self._found.append(found)
            self.on_target()

    def _found_for(self, item: Press | Release | Focus, deadline: float) -> tuple[int | None, Target] | None:
        assert self._bus is not None
        if isinstance(item, Release):
            return self._released(item)
        if isinstance(item, Press):
            return self._lookup(item, deadline)
        pids = {name: pid for pid, name in self._apps.items()}
        pid = pids.get(item.node[0])
        if pid is None:
            pid = self._bus.pid_of(item.node[0], deadline)
        if pid not in self._wanted_pids:  # another app's focus: not looked at
            return None
        return pid, replace(focused(self._bus, item.node, deadline), mono_ns=item.mono_ns)

    def _released(self, release: Release) -> tuple[int | None, Target] | None:
        """A ``change`` target when the pressed widget's states differ once it has acted on the
        release (a check box now checked); None when nothing changed or it is gone."""
        pressed, self._pressed = self._pressed, None
        if pressed is None or release.mono_ns - pressed[1].mono_ns > 2 * 10**9:
            return None
        time.sleep(max(0.0, SETTLE_S - (self._mono_ns() - release.mono_ns) / 1e9))
        assert self._bus is not None
        states = state_names(self._bus.acc(pressed[2], "GetState", time.monotonic() + self._lookup_s))
        if states == pressed[1].states:
            return None
        return pressed[0], replace(pressed[1], mono_ns=release.mono_ns, event="change", states=states)

    def _warm(self, pid: int) -> None:
        try:
            self._apps = self._applications(time.monotonic() + 1.0)
        except Exception:  # the bus did not answer: the first click asks again
            self._asked.discard(pid)

    def _lookup(self, press: Press, deadline: float) -> tuple[int | None, Target] | None:
        assert self._bus is not None
        pid = press.window.pid
        self._pressed = None
        if pid is None:
            return None
        if pid not in self._apps:
            self._apps = self._applications(deadline)
        app = self._apps.get(pid)
        found = None if app is None else lookup(self._bus, app, press.x, press.y, deadline)
        if found is None:
            return None
        target = replace(found[0], mono_ns=press.mono_ns)
        self._pressed = (pid, target, found[1])
        return pid, target

    def _applications(self, deadline: float) -> dict[int, str]:
        assert self._bus is not None
        apps = self._bus.acc(("org.a11y.atspi.Registry", ROOT_PATH), "GetChildren", deadline)
        return {self._bus.pid_of(name, deadline): name for name, _ in apps}

