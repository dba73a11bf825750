"""Real web apps served on loopback and Debian's Chromium with the deskscribe extension, for
the designated-website tests: datasette over a SQLite file, a Django admin site, the native
host installed into a throwaway profile, and where a page's elements are on the X screen."""

from __future__ import annotations

import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from deskscribe.control import request, socket_path
from deskscribe.errors import ControlError
from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import deskscribe
from tests.support import free_port, geometry

CHROMIUM = "/usr/bin/chromium"
# Every name under these two test domains is this machine, so one server is two sites.
HOST_RULES = "MAP *.example.test 127.0.0.1, MAP *.personal.test 127.0.0.1"
WINDOW = (0, 0, 1200, 760)  # x, y, width, height of the browser window on the screen
Box = tuple[int, int, int, int]


class WebApp:
    """A web server run as its own process on a loopback port, stopped by PID."""

    def __init__(self, args: Sequence[str], *, port: int, env: Mapping[str, str] | None = None) -> None:
        self.args, self.port = list(args), port
        self.env = dict(env) if env is not None else None
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> WebApp:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _accepts(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"{' '.join(self.args[:4])} did not start on port {self.port}")
            time.sleep(0.1)
        return self

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def datasette(tmp: Path, name: str, tables: Mapping[str, Sequence[str]]) -> WebApp:
    """datasette serving the database ``name``: one table per entry, one ``note`` row per string."""
    db = tmp / f"{name}.db"
    with sqlite3.connect(db) as c:
        for table, notes in tables.items():
            c.execute(f"create table {table} (id integer primary key, note text)")
            c.executemany(f"insert into {table} (note) values (?)", [(n,) for n in notes])
    port = free_port()
    return WebApp([sys.executable, "-m", "datasette", "serve", str(db), "-h", "127.0.0.1", "-p", str(port)],
                  port=port).start()


DJANGO_SETTINGS = """\
SECRET_KEY = "e2e-only-{port}"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", ".example.test", ".personal.test"]
INSTALLED_APPS = ["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                  "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
              "django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware"]
ROOT_URLCONF = "e2e_urls"
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {{"context_processors": ["django.template.context_processors.request",
                                                "django.contrib.auth.context_processors.auth",
                                                "django.contrib.messages.context_processors.messages"]}}}}]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r}}}}}
STATIC_URL = "static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""
DJANGO_URLS = """\
from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
"""


def django_admin(tmp: Path, *, user: str, password: str) -> WebApp:
    """A Django admin site with one superuser: settings written here, migrated, and served by
    ``runserver`` without its reloader, so the PID started is the server."""
    port = free_port()
    site = tmp / "django"
    site.mkdir()
    (site / "e2e_settings.py").write_text(DJANGO_SETTINGS.format(port=port, db=str(site / "admin.sqlite3")))
    (site / "e2e_urls.py").write_text(DJANGO_URLS)
    env = {**os.environ, "PYTHONPATH": str(site), "DJANGO_SETTINGS_MODULE": "e2e_settings",
           "DJANGO_SUPERUSER_PASSWORD": password}
    manage = [sys.executable, "-m", "django"]
    for step in (["migrate", "--noinput"],
                 ["createsuperuser", "--noinput", "--username", user, "--email", f"{user}@example.test"]):
        out = subprocess.run([*manage, *step], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
    return WebApp([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], port=port, env=env).start()


def install_host(profile: Path, data_dir: Path) -> None:
    """The native messaging host, installed into this profile only, reaching this data dir."""
    deskscribe("browser", "install", "--browser", "chromium", "--user-data-dir", str(profile),
               "--data-dir", str(data_dir))


@contextmanager
def chromium(vd: VirtualDisplay, profile: Path, *extra: str, extension: bool = True
             ) -> Iterator[tuple[BrowserContext, Page]]:
    """Chromium as a real X window on the virtual display, with the unpacked extension and
    nothing else; Playwright drives it over CDP only for navigation and reading geometry.
    Leaving the block closes the browser (and with it the native host it started)."""
    with sync_playwright() as p:
        ctx = _launch(p, vd, profile, *extra, extension=extension)
        try:
            yield ctx, ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


def _launch(p: Playwright, vd: VirtualDisplay, profile: Path, *extra: str, extension: bool) -> BrowserContext:
    ext = deskscribe("browser", "extension-path").stdout.strip()
    load = [f"--load-extension={ext}", f"--disable-extensions-except={ext}"] if extension else []
    x, y, w, h = WINDOW
    return p.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=False, env=vd.app_env, no_viewport=True,
        ignore_default_args=["--disable-extensions", "--enable-automation"],
        args=[*load, "--no-sandbox", "--disable-gpu",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-quic", f"--window-position={x},{y}", f"--window-size={w},{h}",
              f"--host-resolver-rules={HOST_RULES}", *extra])


def browser_window(vd: VirtualDisplay, title: str) -> str:
    """The X window whose title starts with the page title ``title``, brought to the front."""
    win = vd.wait_window(name=f"^{title}")
    vd.activate(win)
    return win


def page_origin(vd: VirtualDisplay, page: Page, win: str) -> tuple[int, int]:
    """Where the page's (0, 0) is on the screen, from the X window's geometry: Chromium draws
    an equal border left, right and below the page and all its own chrome above it."""
    wx, wy, _, _ = geometry(vd, win)
    outer_w, outer_h, inner_w, inner_h = page.evaluate("[outerWidth, outerHeight, innerWidth, innerHeight]")
    border = (outer_w - inner_w) // 2
    return wx + border, wy + outer_h - inner_h - border


def screen_box(page: Page, selector: str, origin: tuple[int, int]) -> Box:
    """An element's border box on the screen, in whole pixels that lie inside it."""
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not on the page"
    left, top = origin[0] + box["x"], origin[1] + box["y"]
    x0, y0 = math.ceil(left), math.ceil(top)
    return x0, y0, math.floor(left + box["width"]) - x0, math.floor(top + box["height"]) - y0


def click(vd: VirtualDisplay, box: Box) -> None:
    """A real pointer click in the middle of ``box``."""
    x, y, w, h = box
    vd.xdotool("mousemove", "--sync", str(x + w // 2), str(y + h // 2))
    vd.xdotool("click", "1")


def recording(data_dir: Path, app: str | None, timeout: float = 20.0) -> None:
    """Wait until the recorder says it records ``app`` with some of its pixels kept and read
    (None: nothing is being recorded)."""
    deadline = time.monotonic() + timeout
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        try:
            status = request(socket_path(data_dir), {"cmd": "status"}, timeout=2.0)
        except ControlError as exc:
            status = {"error": str(exc)}
        if status.get("app", "?") == app and (app is None or status.get("kept")):
            return
        time.sleep(0.1)
    raise AssertionError(f"the recorder does not record {app!r}: {status}")


def vouched(data_dir: Path) -> None:
    """Wait until the recorder records the browser; "kept" in its status means the page's
    pixels have been read, so a frame taken from now on shows the page, not black."""
    recording(data_dir, "Chromium")


def host_pids(data_dir: Path) -> list[int]:
    """Native hosts the browser started for this data directory."""
    wanted = ["deskscribe", "browser", "host", "--data-dir", str(data_dir)]
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if entry.name.isdigit() and all(w in argv for w in wanted):
            pids.append(int(entry.name))
    return pids
