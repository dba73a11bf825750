"""The element under each click from the desktop's accessibility bus: a GTK dialog nobody here
wrote (zenity), the recorder as its own process, real X clicks from xdotool. The test finds
the button through AT-SPI itself, and the dialog's exit code says which button the click hit."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

from deskscribe.control import request, socket_path
from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import RecorderProcess, deskscribe

pytestmark = pytest.mark.slow


def accessible_box(vd: VirtualDisplay, label: str, role: str = "push button",
                   timeout: float = 20.0) -> tuple[int, int, int, int]:
    """Screen extents of the ``role`` named ``label`` in any accessible app on this desktop."""
    assert vd.session_bus is not None, "the virtual display has no D-Bus session"
    with open_dbus_connection(bus=vd.session_bus) as session:
        bus = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
        address = session.send_and_get_reply(new_method_call(bus, "GetAddress"), timeout=5).body[0]
    deadline = time.monotonic() + timeout
    with open_dbus_connection(bus=address) as conn:
        def call(node: tuple[str, str], iface: str, method: str, sig: str | None = None,
                 body: tuple[object, ...] = ()) -> object:
            msg = new_method_call(DBusAddress(node[1], bus_name=node[0], interface=f"org.a11y.atspi.{iface}"),
                                  method, sig, body)
            return conn.send_and_get_reply(msg, timeout=5).body[0]

        def find(node: tuple[str, str]) -> tuple[int, int, int, int] | None:
            if call(node, "Accessible", "GetRoleName") == role:
                name = conn.send_and_get_reply(new_method_call(
                    DBusAddress(node[1], bus_name=node[0], interface="org.freedesktop.DBus.Properties"),
                    "Get", "ss", ("org.a11y.atspi.Accessible", "Name")), timeout=5).body[0][1]
                if name == label:
                    return tuple(call(node, "Component", "GetExtents", "u", (0,)))  # type: ignore[return-value, arg-type]
            for child in call(node, "Accessible", "GetChildren"):  # type: ignore[attr-defined]
                if (found := find(tuple(child))) is not None:  # type: ignore[arg-type]
                    return found
            return None

        while time.monotonic() < deadline:
            found = find(("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root"))
            if found is not None:
                return found
            time.sleep(0.2)
    raise AssertionError(f"no accessible {role} {label!r} appeared")


def built_steps(rec: RecorderProcess, out: Path) -> list[dict[str, Any]]:
    deskscribe("build", "--data-dir", str(rec.data_dir), "--out", str(out), "--format", "jsonl")
    return [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]


def press(vd: VirtualDisplay, x: int, y: int) -> None:
    vd.xdotool("mousemove", str(x), str(y))
    vd.xdotool("mousedown", "1")
    time.sleep(0.1)  # as long as a person holds a button down
    vd.xdotool("mouseup", "1")


def recording(rec: RecorderProcess, app: str) -> None:
    deadline = time.monotonic() + 20
    while request(socket_path(rec.data_dir), {"cmd": "status"}, timeout=2.0)["app"] != app:
        assert time.monotonic() < deadline, f"the recorder never recorded {app}"
        time.sleep(0.1)


def test_a_click_carries_the_button_under_it_even_though_the_click_closes_the_dialog(
        vd: VirtualDisplay, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "a11y-1"\ndesignated_apps = ["Zenity"]\nscreenshot_interval_s = 1\n')
    rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy).start()
    try:
        dialog = vd.spawn(["zenity", "--question", "--title", "Report", "--text", "Send the report?"])
        vd.activate(vd.wait_window(name="^Report$"))
        x, y, w, h = accessible_box(vd, "Yes")
        recording(rec, "Zenity")
        cx, cy = x + w // 3, y + h // 2
        press(vd, cx, cy)
        assert dialog.wait(timeout=10) == 0  # zenity's answer for "Yes": the click hit that button
        time.sleep(0.5)
        rec.stop()
        events = rec.dump()
    finally:
        rec.kill()
    downs = [e for e in events if e["kind"] == "mouse_down"]
    assert [(e["x"], e["y"]) for e in downs] == [(cx, cy)]
    targets = [e for e in events if e["kind"] == "target" and e["event"] == "pointerdown"]
    assert len(targets) == 1, targets
    t = targets[0]
    assert (t["source"], t["event"], t["role"], t["name"]) == ("atspi", "pointerdown", "push button", "Yes")
    bx, by, bw, bh = t["bbox"]  # type: ignore[misc]
    assert bx <= cx < bx + bw and by <= cy < by + bh and [bx, by, bw, bh] == [x, y, w, h]
    assert str(t["selector"]).startswith("dialog > ") and str(t["selector"]).endswith(" > push button")
    assert int(t["t_ns"]) - int(downs[0]["t_ns"]) < 50_000_000  # looked up at the press, not later
    steps = built_steps(rec, tmp_path / "out")
    clicks = [s for s in steps if s["action"]["type"] == "click"]
    assert len(clicks) == 1 and clicks[0]["target"]["name"] == "Yes" and clicks[0]["target"]["role"] == "push button"


def test_a_check_box_click_carries_the_state_it_changed_to(vd: VirtualDisplay, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "a11y-2"\ndesignated_apps = ["Yad"]\n')
    rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy).start()
    try:
        form = subprocess.Popen(["yad", "--form", "--title", "Settings", "--field=Remember me:CHK",
                                 "--field=Size:CB", "--field=Name", "FALSE", "small!medium!large", ""],
                                env=vd.app_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        vd.activate(vd.wait_window(name="^Settings$"))
        box = accessible_box(vd, "Remember me", role="check box")
        ok = accessible_box(vd, "OK")
        entry = accessible_box(vd, "", role="text")
        recording(rec, "Yad")
        press(vd, box[0] + 8, box[1] + box[3] // 2)
        time.sleep(0.5)
        press(vd, entry[0] + 10, entry[1] + entry[3] // 2)
        vd.xdotool("type", "--delay", "50", "Ada")
        time.sleep(0.5)
        press(vd, ok[0] + ok[2] // 2, ok[1] + ok[3] // 2)
        out, _ = form.communicate(timeout=10)
        time.sleep(0.5)
        rec.stop()
        events = rec.dump()
    finally:
        rec.kill()
    assert form.returncode == 0 and out.startswith("TRUE|") and "Ada" in out, out  # the box was checked
    targets = [(e["event"], e["role"], e["name"], "checked" in e["states"]) for e in events  # type: ignore[operator]
               if e["kind"] == "target"]
    clicked = [t for t in targets if t[0] != "focus"]
    assert clicked == [("pointerdown", "check box", "Remember me", False), ("change", "check box", "Remember me", True),
                       ("pointerdown", "text", "Name", False), ("pointerdown", "push button", "OK", False)], targets
    assert ("focus", "text", "Name", False) in targets  # what the typing went into
    steps = built_steps(rec, tmp_path / "out")
    typed = [s for s in steps if s["action"]["type"] == "type"]
    assert typed and typed[0]["target"]["role"] == "text" and typed[0]["target"]["name"] == "Name"
