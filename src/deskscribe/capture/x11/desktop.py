"""Facts about the X desktop the recorder needs before and beside capture.

Each check fails with what to change, so the recorder says why this desktop cannot be
recorded before any capture thread starts rather than failing later inside one.
"""

from __future__ import annotations

import contextlib

import mss
from Xlib import X, Xatom, display, error

from deskscribe.capture.xsettings import (
    PointerSettings,
    parse_xsettings,
    pointer_settings,
    scale_from_resources,
)
from deskscribe.errors import CaptureUnavailable

Monitor = tuple[int, int, int, int, float]  # left, top, width, height, scale factor


def open_display(name: str) -> display.Display:
    try:
        return display.Display(name)
    except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
        raise CaptureUnavailable(f"cannot open X display {name}: {exc}") from None


def require_pixel_format(disp: display.Display) -> None:
    """Frames are read as 32-bit little-endian BGRX, the format of every 24-bit desktop."""
    screen = disp.screen()
    fmt = next((f for f in disp.display.info.pixmap_formats if f.depth == screen.root_depth), None)
    if screen.root_depth != 24 or fmt is None or fmt.bits_per_pixel != 32 \
            or disp.display.info.image_byte_order != X.LSBFirst:
        raise CaptureUnavailable(f"unsupported screen format (depth {screen.root_depth});"
                                 " run the X server at 24-bit colour depth")


def require_extensions(disp: display.Display) -> None:
    for ext, why in (("RECORD", "input capture"), ("DAMAGE", "screen change tracking")):
        if not disp.has_extension(ext):
            raise CaptureUnavailable(f"the X server lacks the {ext} extension needed for {why};"
                                     " enable it in the server configuration")
    supported = disp.screen().root.get_full_property(
        disp.intern_atom("_NET_SUPPORTED"), Xatom.ATOM)
    if supported is None or disp.intern_atom("_NET_ACTIVE_WINDOW") not in supported.value:
        raise CaptureUnavailable("the window manager does not publish _NET_ACTIVE_WINDOW;"
                                 " run an EWMH window manager (openbox, xfwm4, mutter, kwin)")


def monitors(disp: display.Display, name: str) -> list[Monitor]:
    """Every monitor with the scale factor the desktop's resources announce."""
    resources = disp.screen().root.get_full_property(Xatom.RESOURCE_MANAGER, Xatom.STRING)
    text = resources.value.decode("utf-8", "replace") if resources is not None else ""
    scale = scale_from_resources(text)
    with mss.MSS(display=name) as sct:
        mons = sct.monitors[1:] or sct.monitors[:1]
        return [(m["left"], m["top"], m["width"], m["height"], scale) for m in mons]


def desktop_pointer_settings(disp: display.Display) -> PointerSettings:
    """Double-click time/distance from the XSETTINGS manager, when one runs."""
    selection = disp.intern_atom(f"_XSETTINGS_S{disp.get_default_screen()}")
    owner = disp.get_selection_owner(selection)
    prop = None
    if owner:
        with contextlib.suppress(error.BadWindow):
            prop = owner.get_full_property(disp.intern_atom("_XSETTINGS_SETTINGS"), X.AnyPropertyType)
    blob = bytes(prop.value) if prop is not None and isinstance(prop.value, bytes | bytearray) else b""
    return pointer_settings(parse_xsettings(blob))
