"""Is keyboard focus in a password field? Asked of the desktop's accessibility bus (AT-SPI).

Toolkits mark secure entry fields with the ``password text`` role. A watcher thread follows
focus changes on the AT-SPI bus and remembers when a password field last had focus, so a
typing burst can be judged even if focus moved on before the burst was scanned. It speaks
D-Bus through jeepney (pure Python); pyatspi needs the system's GObject bindings, which a
virtualenv does not see.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from deskscribe.context import NoContext
from deskscribe.errors import AccessibilityUnavailable

ROLE_PASSWORD_TEXT = 40
_FOCUS_EVENT = "object:state-changed:focused"


def open_accessibility_bus(session_bus: str) -> Any:
    """A connection to the desktop's accessibility bus, found through the session bus;
    raises :class:`AccessibilityUnavailable` with the reason."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    try:
        with open_dbus_connection(bus=session_bus) as session:
            bus = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
            a11y = session.send_and_get_reply(new_method_call(bus, "GetAddress"), timeout=5).body[0]
        return open_dbus_connection(bus=a11y)
    except Exception as exc:  # any D-Bus failure means: no accessibility here
        raise AccessibilityUnavailable(f"AT-SPI is not reachable ({exc})") from None


class PasswordFocus(NoContext):
    """``since(t)``: a password field has had focus at some moment after monotonic ``t``."""

    def __init__(self, *, session_bus: str, mono_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._address = session_bus
        self._mono_ns = mono_ns
        self._focused: str | None = None  # "sender path" of the focused password field
        self._left_ns = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._rule: Any = None

    def start(self) -> None:
        """Connect and subscribe; raises :class:`AccessibilityUnavailable` with the reason."""
        from jeepney import DBusAddress, MatchRule, message_bus, new_method_call

        self._conn = open_accessibility_bus(self._address)
        try:
            registry = DBusAddress("/org/a11y/atspi/registry", bus_name="org.a11y.atspi.Registry",
                                   interface="org.a11y.atspi.Registry")
            self._conn.send_and_get_reply(new_method_call(registry, "RegisterEvent", "s", (_FOCUS_EVENT,)),
                                          timeout=5)
            self._rule = MatchRule(type="signal", interface="org.a11y.atspi.Event.Object",
                                   member="StateChanged")
            self._conn.send_and_get_reply(message_bus.AddMatch(self._rule), timeout=5)
        except Exception as exc:  # any D-Bus failure means: no accessibility here
            raise AccessibilityUnavailable(f"AT-SPI is not reachable ({exc})") from None
        self._thread = threading.Thread(target=self._run, name="deskscribe-atspi", daemon=True)
        self._thread.start()

    def since(self, mono_ns: int) -> bool:
        return self._focused is not None or self._left_ns >= mono_ns

    def secret_since(self, mono_ns: int) -> bool:
        return self.since(mono_ns)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._conn is not None:
            self._conn.close()

    def _run(self) -> None:
        with self._conn.filter(self._rule, bufsize=1000) as queue:
            while not self._stop.is_set():
                try:
                    msg = self._conn.recv_until_filtered(queue, timeout=0.5)
                except TimeoutError:
                    continue
                except OSError:
                    return  # the bus went away: keep the last answer
                self._handle(msg)

    def _handle(self, msg: Any) -> None:
        from jeepney.low_level import HeaderFields

        detail, gained = msg.body[0], msg.body[1]
        if detail != "focused":
            return
        obj = (msg.header.fields.get(HeaderFields.sender), msg.header.fields.get(HeaderFields.path))
        key = f"{obj[0]} {obj[1]}"
        if not gained:
            if self._focused == key:
                self._focused, self._left_ns = None, self._mono_ns()
            return
        if self._role(*obj) == ROLE_PASSWORD_TEXT:
            self._focused = key
        elif self._focused is not None:
            self._focused, self._left_ns = None, self._mono_ns()

    def _role(self, sender: str, path: str) -> int | None:
        from jeepney import DBusAddress, new_method_call

        acc = DBusAddress(path, bus_name=sender, interface="org.a11y.atspi.Accessible")
        try:
            return int(self._conn.send_and_get_reply(new_method_call(acc, "GetRole"), timeout=1).body[0])
        except Exception:  # the app closed or does not answer: assume the worst
            return ROLE_PASSWORD_TEXT
