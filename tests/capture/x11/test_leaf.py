"""The X11 leaf on a real X server: a revealed window's pixels are read before frames use them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from Xlib import X, display

from deskscribe.capture.x11.leaf import X11Leaf
from deskscribe.policy import parse_policy
from deskscribe.vdisplay import VirtualDisplay

POLICY = parse_policy({"version": "l1", "designated_apps": ["Revealed"]})


@pytest.fixture(scope="module")
def vd() -> Iterator[VirtualDisplay]:
    display_ = VirtualDisplay(width=320, height=240).start()
    yield display_
    display_.stop()


def test_a_window_becoming_designated_is_read_whole_before_it_counts_as_shown(vd: VirtualDisplay) -> None:
    app = display.Display(vd.name)
    leaf = X11Leaf(display_name=vd.name, policy=POLICY)
    try:
        win = app.screen().root.create_window(20, 20, 100, 80, 0, app.screen().root_depth, X.InputOutput,
                                              background_pixel=app.screen().white_pixel)
        win.set_wm_class("other", "Other")
        win.map()
        app.sync()
        leaf.start(on_input=lambda raw: None, on_focus=lambda t, info: None)
        deadline = time.monotonic() + 10
        while (leaf.screen.whole_since_ms is None or not leaf.layout.windows) \
                and time.monotonic() < deadline:  # the leaf knows the window before it is renamed
            time.sleep(0.01)
        first = leaf.screen.whole_since_ms
        assert first is not None and leaf.layout.windows and not leaf.layout.any_kept
        win.set_wm_class("revealed", "Revealed")  # now designated: the kept area grows
        app.sync()
        while not (leaf.layout.any_kept and (leaf.screen.whole_since_ms or first) > first) \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        since = leaf.screen.whole_since_ms
        assert leaf.layout.any_kept and since is not None and since > first
        pos = win.translate_coords(app.screen().root, 0, 0)  # where the window manager placed it
        x, y = -pos.x, -pos.y
        pixels, _ = leaf.screen.snapshot(since + 1)
        assert pixels[y + 10:y + 70, x + 10:x + 90, :3].min() == 255  # white, not unread black
    finally:
        leaf.stop()
        app.close()
