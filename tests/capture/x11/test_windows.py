"""The window tracker on a real X server: which app holds the window in front."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from Xlib import X, display

from deskscribe.capture.base import WindowInfo
from deskscribe.capture.x11.windows import WindowTracker
from deskscribe.policy import parse_policy
from deskscribe.vdisplay import VirtualDisplay

POLICY = parse_policy({"version": "w1", "designated_apps": ["LateApp"]})


@pytest.fixture(scope="module")
def vd() -> Iterator[VirtualDisplay]:
    display_ = VirtualDisplay(width=640, height=480).start()
    yield display_
    display_.stop()


def focused_when(tracker: WindowTracker, done: Callable[[WindowInfo | None], bool],
                 timeout: float = 10.0) -> WindowInfo | None:
    deadline = time.monotonic() + timeout
    info = tracker.focused()
    while not done(info) and time.monotonic() < deadline:
        time.sleep(0.05)
        info = tracker.focused()
    return info


def test_an_app_that_names_itself_after_mapping_is_known_once_it_does(vd: VirtualDisplay) -> None:
    app = display.Display(vd.name)  # the "app": maps first, sets WM_CLASS later, as Chromium does
    tracker_disp = display.Display(vd.name)
    try:
        win = app.screen().root.create_window(50, 50, 200, 100, 0, app.screen().root_depth, X.InputOutput,
                                              background_pixel=app.screen().white_pixel)
        win.set_wm_name("late window")
        win.map()
        app.sync()
        vd.activate(str(win.id))
        tracker = WindowTracker(disp=tracker_disp, policy=POLICY)
        before = focused_when(tracker, lambda i: i is not None and i.title == "late window")
        assert before is not None and before.app is None  # no class yet: not designated, not cached
        win.set_wm_class("lateapp", "LateApp")
        app.sync()
        after = focused_when(tracker, lambda i: i is not None and i.app == "LateApp")
        assert after is not None and after.app == "LateApp" and after.title == "late window"
        assert POLICY.is_designated(after.app, after.title)
        win.set_wm_class("other", "Other")  # renamed: the cache is dropped on the property change
        app.sync()
        tracker.reidentified(int(win.id))
        again = focused_when(tracker, lambda i: i is not None and i.app == "Other")
        assert again is not None and again.app == "Other"
    finally:
        app.close()
        tracker_disp.close()
