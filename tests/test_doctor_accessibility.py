"""`doctor`'s accessibility line: what the desktop's AT-SPI bus gives, and how to get it."""

from __future__ import annotations

import pytest

from deskscribe.doctor import OK, WARN, check_accessibility
from deskscribe.errors import AccessibilityUnavailable
from deskscribe.vdisplay import VirtualDisplay


def refuse(address: str) -> None:
    raise AccessibilityUnavailable(f"AT-SPI is not reachable (no bus at {address})")


def test_no_session_bus_is_a_warning_saying_what_is_lost() -> None:
    [check] = check_accessibility(None, probe=refuse, qt_always_on=False)
    assert check.status == WARN and "clicks carry no element" in check.detail and "dbus-run-session" in check.fix


def test_an_unreachable_bus_names_the_package() -> None:
    [check] = check_accessibility("unix:path=/nowhere", probe=refuse, qt_always_on=False)
    assert check.status == WARN and "/nowhere" in check.detail and "at-spi2-core" in check.fix


@pytest.mark.parametrize(("qt_on", "mentions_qt"), [(False, True), (True, False)])
def test_a_reachable_bus_says_which_toolkits_need_switching_on(qt_on: bool, mentions_qt: bool) -> None:
    [check] = check_accessibility("unix:path=/bus", probe=lambda a: None, qt_always_on=qt_on)
    assert check.status == OK and "--force-renderer-accessibility" in check.detail
    assert ("QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1" in check.detail) is mentions_qt


def test_the_real_probe_reaches_a_desktop_bus() -> None:
    from deskscribe.capture.atspi import open_accessibility_bus

    vd = VirtualDisplay(width=320, height=240).start()
    try:
        [check] = check_accessibility(vd.session_bus, probe=lambda a: open_accessibility_bus(a).close(),
                                      qt_always_on=True)
    finally:
        vd.stop()
    assert check.status == OK, check
    [gone] = check_accessibility("unix:path=/nonexistent/bus", probe=lambda a: open_accessibility_bus(a).close(),
                                 qt_always_on=True)
    assert gone.status == WARN and "not reachable" in gone.detail
