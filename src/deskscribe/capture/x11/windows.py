"""Which windows are on screen, which of them may be stored, and which one has focus.

Identity (app, title, pid) is cached per client window: it is asked for every top-level on
every layout change, and only a window's name changes while it lives.
"""

from __future__ import annotations

from collections.abc import Callable

from Xlib import X, Xatom, display, error
from Xlib.xobject.drawable import Window

from deskscribe.capture.base import Layout, Rect, WindowInfo
from deskscribe.policy import Policy

_GONE = (error.BadWindow, error.BadDrawable, error.BadMatch)


class WindowTracker:
    """Reads the window tree of one display connection; used only on that connection's thread."""

    def __init__(self, *, disp: display.Display, policy: Policy,
                 page_area: Callable[[WindowInfo], Rect | None] = lambda info: None) -> None:
        self._disp = disp
        self._root = disp.screen().root
        self._policy = policy
        self._page_area = page_area
        self._atoms = {n: disp.intern_atom(n) for n in (
            "_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "WM_NAME", "_NET_WM_PID", "WM_STATE",
            "_NET_CLIENT_LIST_STACKING", "UTF8_STRING")}
        self.name_atoms = (self._atoms["_NET_WM_NAME"], self._atoms["WM_NAME"])
        self.identity_atoms = (Xatom.WM_CLASS, self._atoms["_NET_WM_PID"])
        self.active_atom = self._atoms["_NET_ACTIVE_WINDOW"]
        self.stacking_atom = self._atoms["_NET_CLIENT_LIST_STACKING"]
        self._clients: dict[int, int | None] = {}
        self._titles: dict[int, str | None] = {}
        self._apps: dict[int, tuple[str | None, int | None]] = {}

    def retitled(self, window_id: int) -> None:
        """Forget a window's cached title once its name property changed."""
        self._titles.pop(window_id, None)

    def reidentified(self, window_id: int) -> None:
        """Forget a window's cached app and pid once its WM_CLASS or _NET_WM_PID changed."""
        self._apps.pop(window_id, None)

    def layout(self, width: int, height: int) -> Layout:
        """The visible window stack now, bottom to top, designated client areas kept."""
        windows = []
        for top in self._root.query_tree().children:
            try:
                if top.get_attributes().map_state != X.IsViewable:
                    continue
                geo = top.get_geometry()
                client = self._client_of(top)
                keep, page = False, None
                if client is not None:
                    app, title, _ = self._identity(client)
                    keep = self._policy.is_designated(app, title)
                    if self._policy.is_browser(app):  # only the page a context source vouches for
                        page = self._page_area(self._window_info(client))
                b = geo.border_width
                windows.append((Rect(geo.x, geo.y, geo.width + 2 * b, geo.height + 2 * b), False))
                if page is not None:
                    windows.append((page, True))
                elif keep and client is not None:
                    # Only the app's own area is kept: the window manager's title bar shows the
                    # raw title, which is stored (redacted) as text instead.
                    cgeo = client.get_geometry()
                    pos = self._root.translate_coords(client, 0, 0)
                    windows.append((Rect(pos.x, pos.y, cgeo.width, cgeo.height), True))
            except _GONE:
                continue  # gone while we looked: it is not visible
        return Layout(width, height, tuple(windows))

    def focused(self) -> WindowInfo | None:
        """The window the window manager calls active, if it still exists."""
        prop = self._root.get_full_property(self.active_atom, Xatom.WINDOW)
        if prop is None or not len(prop.value) or not prop.value[0]:
            return None
        try:
            win = self._disp.create_resource_object("window", int(prop.value[0]))
            return self._window_info(win)
        except _GONE:
            return None

    def _text(self, win: Window, atom: str) -> str | None:
        prop = win.get_full_property(self._atoms[atom], X.AnyPropertyType)
        if prop is None:
            return None
        value = prop.value
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def _client_of(self, win: Window) -> Window | None:
        """The application window inside a top-level (WM frame or override-redirect)."""
        wid = win.id
        if wid not in self._clients:
            self._clients[wid] = self._find_client(win, depth=2)
        cid = self._clients[wid]
        return None if cid is None else self._disp.create_resource_object("window", cid)

    def _find_client(self, win: Window, depth: int) -> int | None:
        if win.get_wm_class() is not None or win.get_full_property(
                self._atoms["WM_STATE"], X.AnyPropertyType) is not None:
            win.change_attributes(event_mask=X.PropertyChangeMask)
            return int(win.id)
        if depth == 0:
            return None
        for child in win.query_tree().children:
            found = self._find_client(child, depth - 1)
            if found is not None:
                return found
        return None

    def _identity(self, client: Window) -> tuple[str | None, str | None, int | None]:
        """(app, title, pid), cached until the window's name, class or pid changes. An app
        not named yet (Chromium maps its window first) is asked again next time."""
        cid = int(client.id)
        identity = self._apps.get(cid)
        if identity is None:
            wm_class = client.get_wm_class()
            pid = client.get_full_property(self._atoms["_NET_WM_PID"], Xatom.CARDINAL)
            identity = (wm_class[1] if wm_class else None, int(pid.value[0]) if pid else None)
            if wm_class is not None:
                self._apps[cid] = identity
        if cid not in self._titles:
            self._titles[cid] = self._text(client, "_NET_WM_NAME") or self._text(client, "WM_NAME")
        return identity[0], self._titles[cid], identity[1]

    def _window_info(self, client: Window) -> WindowInfo:
        app, title, pid = self._identity(client)
        geo = client.get_geometry()
        pos = self._root.translate_coords(client, 0, 0)
        return WindowInfo(app=app, title=title, pid=pid,
                          geometry=(pos.x, pos.y, geo.width, geo.height), window=int(client.id))
