"""The visible recording indicator: a tray icon where the desktop has a system tray.

Recording is never hidden: the icon shows recording (red), paused (amber) or nothing in front
that may be recorded (grey), and its menu pauses, resumes and stops. Without a tray the status
line on the terminal is the indicator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw

RECORDING, PAUSED, IDLE = "recording", "paused", "idle"
_COLOURS = {RECORDING: (220, 30, 30), PAUSED: (235, 160, 20), IDLE: (140, 140, 140)}


def tray_available(display_name: str) -> bool:
    """A system tray is running: someone owns the ``_NET_SYSTEM_TRAY_S<screen>`` selection."""
    try:
        from Xlib import X, display, error
    except ImportError:
        return False
    try:
        disp = display.Display(display_name)
    except (error.DisplayError, OSError):
        return False
    try:
        atom = disp.intern_atom(f"_NET_SYSTEM_TRAY_S{disp.get_default_screen()}")
        return bool(disp.get_selection_owner(atom) != X.NONE)
    finally:
        disp.close()


def icon_image(state: str, size: int = 22) -> Image.Image:
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((3, 3, size - 4, size - 4), fill=_COLOURS[state], outline=(255, 255, 255))
    return img


class TrayIndicator:
    def __init__(self, *, on_pause: Callable[[], None], on_resume: Callable[[], None],
                 on_stop: Callable[[], None]) -> None:
        import pystray

        self._state = IDLE
        self._shown: tuple[str, str] | None = None
        def toggle() -> None:
            (on_resume if self._state == PAUSED else on_pause)()

        # X trays show no menus: clicking the icon runs the default item, pause/resume.
        menu = pystray.Menu(
            pystray.MenuItem(lambda _: "Resume recording" if self._state == PAUSED else "Pause recording",
                             toggle, default=True),
            pystray.MenuItem("Stop recording", lambda: on_stop()),
        )
        self._icon: Any = pystray.Icon("deskscribe", icon_image(IDLE), "deskscribe: starting", menu)

    def start(self) -> None:
        # pystray's own detached thread is not a daemon and can outlive stop(); this one is.
        threading.Thread(target=self._icon.run, args=(_make_visible,), name="deskscribe-tray",
                         daemon=True).start()

    def show(self, state: str, text: str) -> None:
        title = f"deskscribe: {text}"
        self._state = state
        if (state, title) == self._shown or not self._icon.visible:
            return  # unchanged, or the icon is not docked yet: the next call shows it
        self._shown = (state, title)
        self._icon.title = title
        self._icon.icon = icon_image(state)
        # pystray's X backend neither flushes after a title change nor redraws an icon the
        # tray has not docked yet, so the new name could sit in the request buffer.
        display = getattr(self._icon, "_display", None)
        if display is not None:
            display.flush()

    def stop(self) -> None:
        self._icon.stop()


def _make_visible(icon: Any) -> None:
    icon.visible = True
