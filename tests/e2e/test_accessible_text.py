"""Redaction from the app's own text: mousepad (GTK, nobody here wrote it) shows a document
with an e-mail address; the recorder, as its own process, reads the text view's text from the
accessibility bus and boxes the address where the toolkit says it is, with no OCR over the
view. The test asks the toolkit through AT-SPI itself where the address is."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection
from PIL import Image
from Xlib import XK, X, display
from Xlib.ext import xtest

from deskscribe.control import request, socket_path
from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import RecorderProcess, deskscribe

pytestmark = pytest.mark.slow

EMAIL = "jane.doe@example.com"
DOC = f"Meeting notes for the quarterly review\ncontact {EMAIL} about the budget\nthird line\n"
GREY = 128
NAMES = {" ": "space", ".": "period", "@": "at"}


Box = tuple[int, int, int, int]


def text_view(vd: VirtualDisplay) -> tuple[Box, Box | None]:
    """(the text view's extents, the e-mail's extents if it shows one) on screen, from AT-SPI."""
    assert vd.session_bus is not None
    with open_dbus_connection(bus=vd.session_bus) as session:
        bus = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
        address = session.send_and_get_reply(new_method_call(bus, "GetAddress"), timeout=5).body[0]
    with open_dbus_connection(bus=address) as conn:
        def call(node: tuple[str, str], iface: str, method: str, sig: str | None = None,
                 body: tuple[object, ...] = ()) -> tuple[Any, ...]:
            msg = new_method_call(DBusAddress(node[1], bus_name=node[0], interface=f"org.a11y.atspi.{iface}"),
                                  method, sig, body)
            return tuple(conn.send_and_get_reply(msg, timeout=5).body)

        def views(node: tuple[str, str]) -> list[tuple[int, tuple[str, str]]]:
            """Text widgets on screen, by area: the document view is the largest."""
            found = []
            if call(node, "Accessible", "GetRoleName")[0] == "text":
                x, y, w, h = _box(call(node, "Component", "GetExtents", "u", (0,))[0])
                if w > 0 and h > 0 and x >= 0 and y >= 0:
                    found.append((w * h, node))
            for child in call(node, "Accessible", "GetChildren")[0]:
                found += views((str(child[0]), str(child[1])))
            return found

        deadline = time.monotonic() + 20
        while not (shown := views(("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root"))):
            assert time.monotonic() < deadline, "mousepad's text view never appeared on the accessibility bus"
            time.sleep(0.2)
        view = max(shown)[1]
        extents = call(view, "Component", "GetExtents", "u", (0,))[0]
        text = str(call(view, "Text", "GetText", "ii", (0, -1))[0])
        if EMAIL not in text:
            return _box(extents), None
        start = text.index(EMAIL)
        email = call(view, "Text", "GetRangeExtents", "iiu", (start, start + len(EMAIL), 0))
        return _box(extents), _box(email)


def _box(values: Any) -> Box:
    x, y, w, h = (int(v) for v in values)
    return x, y, w, h


def status(rec: RecorderProcess) -> dict[str, Any]:
    return request(socket_path(rec.data_dir), {"cmd": "status"}, timeout=2.0)


def wait_described(rec: RecorderProcess, vd: VirtualDisplay, x: int, y: int) -> dict[str, Any]:
    """Click in the view until a frame is described (the source reads the view once it knows
    the app, after the app's first frame)."""
    deadline = time.monotonic() + 30
    while True:
        vd.xdotool("mousemove", str(x), str(y), "click", "1")
        time.sleep(0.8)
        now = status(rec)
        if int(now["described"]) > 0:
            return now
        assert time.monotonic() < deadline, f"no frame was described by the accessibility bus: {now}"


def type_then_click(vd: VirtualDisplay, text: str, x: int, y: int) -> None:
    """Keys as a person types them, and a click right after the last one, sooner than the
    source reads the view again (xdotool would take its next command as more text)."""
    disp = display.Display(vd.name)
    try:
        shift = disp.keysym_to_keycode(XK.XK_Shift_L)
        for char in text:
            keycode, index = next(iter(disp.keysym_to_keycodes(XK.string_to_keysym(NAMES.get(char, char)))))
            for kind in (X.KeyPress, X.KeyRelease):
                if index & 1 and kind == X.KeyPress:
                    xtest.fake_input(disp, X.KeyPress, shift)
                xtest.fake_input(disp, kind, keycode)
                if index & 1 and kind == X.KeyRelease:
                    xtest.fake_input(disp, X.KeyRelease, shift)
            disp.sync()
            time.sleep(0.03)
        # The app paints the last keys first: a frame of a half-painted line would show less of
        # the address than any rule boxes (a part must show 6 letters or digits). 0.1 s stays
        # below the 0.15 s the source waits before it reads again.
        time.sleep(0.1)
        xtest.fake_input(disp, X.MotionNotify, x=x, y=y)
        xtest.fake_input(disp, X.ButtonPress, 1)
        xtest.fake_input(disp, X.ButtonRelease, 1)
        disp.sync()
    finally:
        disp.close()


def frames_of(rec: RecorderProcess, out: Path) -> list[np.ndarray]:
    deskscribe("sessions", "frames", rec.session_id, "--data-dir", str(rec.data_dir), "--out", str(out))
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(out.glob("*.png"))]


def test_the_text_view_is_redacted_from_its_own_text_without_ocr(vd: VirtualDisplay, tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text(DOC)
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "t"\ndesignated_apps = ["Mousepad"]\nscreenshot_interval_s = 1\n')
    vd.spawn(["mousepad", str(doc)])
    vd.activate(vd.wait_window(cls="Mousepad"))
    view, email = text_view(vd)
    assert email is not None
    rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy).start()
    try:
        x, y = view[0] + view[2] // 2, view[1] + view[3] - 20  # below the text: the caret moves, nothing else
        before = wait_described(rec, vd, x, y)
        for _ in range(3):
            vd.xdotool("mousemove", str(x - 40), str(y), "click", "1")
            time.sleep(0.8)
        after = status(rec)
        rec.stop()
    finally:
        rec.kill()
    assert int(after["described"]) >= int(before["described"]) + 3
    read = int(after["ocr_pixels"]) - int(before["ocr_pixels"])
    assert read < view[2] * view[3], f"OCR read {read} px over the described frames: it read the text view"
    frames = frames_of(rec, tmp_path / "frames")
    assert frames, "no frame was kept"
    ex, ey, ew, eh = email[0] + 1, email[1] + 1, email[2] - 2, email[3] - 2
    for pixels in frames:
        assert (pixels[ey:ey + eh, ex:ex + ew] == GREY).all(), "a frame shows the e-mail address"


def test_text_typed_just_before_a_click_is_still_redacted(vd: VirtualDisplay, tmp_path: Path) -> None:
    """The view changes and a frame is cut before the source has read it again: that frame is
    not described from the stale reading, OCR reads it, and the new address is boxed."""
    doc = tmp_path / "notes.txt"
    doc.write_text("Meeting notes\n\n\n")
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "t"\ndesignated_apps = ["Mousepad"]\nscreenshot_interval_s = 60\n')
    vd.spawn(["mousepad", str(doc)])
    vd.activate(vd.wait_window(cls="Mousepad"))
    view, _ = text_view(vd)
    rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy).start()
    try:
        x, y = view[0] + 30, view[1] + view[3] - 20
        wait_described(rec, vd, x, y)
        vd.xdotool("key", "ctrl+End")
        type_then_click(vd, f"write to {EMAIL}", x, y)
        time.sleep(1.5)
        _, email = text_view(vd)
        rec.stop()
    finally:
        rec.kill()
    assert email is not None, "mousepad does not show the typed address"
    frames = frames_of(rec, tmp_path / "frames")
    ex, ey, ew, eh = email[0] + 1, email[1] + 1, email[2] - 2, email[3] - 2
    areas = [f[ey:ey + eh, ex:ex + ew] for f in frames]
    seen = [((a == GREY).mean(), (a.max(axis=2) < 100).mean()) for a in areas]  # (boxed, glyph) shares
    assert any((a == GREY).all() for a in areas), f"no frame boxed the typed address: {seen}"
    assert not any((a.max(axis=2) < 100).any() for a in areas), f"a frame shows the typed address's glyphs: {seen}"


def test_a_moved_window_is_read_again_where_it_now_is(vd: VirtualDisplay, tmp_path: Path) -> None:
    """Moving a window sends no text signal and takes no input; its first frame after the move
    is OCR's and asks the source to read the view again where it now is."""
    doc = tmp_path / "notes.txt"
    doc.write_text(DOC)
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "t"\ndesignated_apps = ["Mousepad"]\nscreenshot_interval_s = 1\n')
    vd.spawn(["mousepad", str(doc)])
    win = vd.wait_window(cls="Mousepad")
    vd.activate(win)
    view, _ = text_view(vd)
    rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy).start()
    try:
        before = wait_described(rec, vd, view[0] + view[2] // 2, view[1] + view[3] - 20)
        vd.xdotool("windowmove", "--sync", win, "200", "120")
        time.sleep(1.0)
        moved, email = text_view(vd)
        assert moved[:2] != view[:2], "the window did not move"
        deadline = time.monotonic() + 20
        while int(status(rec)["described"]) <= int(before["described"]) + 1:  # no input: the caret blinks
            assert time.monotonic() < deadline, "the moved window was never read again"
            time.sleep(0.5)
        rec.stop()
    finally:
        rec.kill()
    assert email is not None
    frames = frames_of(rec, tmp_path / "frames")
    ex, ey, ew, eh = email[0] + 1, email[1] + 1, email[2] - 2, email[3] - 2
    assert (frames[-1][ey:ey + eh, ex:ex + ew] == GREY).all(), "the address is not boxed where the window moved"
