"""`deskscribe doctor`: what recording needs here, what is missing, and how to fix it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from deskscribe.browser.manifests import launcher_of
from deskscribe.browser.native_host import PROTOCOL
from deskscribe.errors import ControlError, DeskscribeError, RecorderNotRunning
from deskscribe.keystore import os_keyring_available

if TYPE_CHECKING:
    from deskscribe.client import PolicyAnswer

OK, WARN, FAIL = "ok", "warn", "fail"
_MARK = {OK: "[green]✔[/]", WARN: "[yellow]![/]", FAIL: "[red]✘[/]"}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def check_display(display_name: str | None, wayland: bool) -> list[Check]:
    if not display_name:
        if wayland:
            return [Check("display", FAIL, "Wayland session without X11",
                          "log in with an X11 (Xorg) session; Wayland capture is not supported")]
        return [Check("display", FAIL, "DISPLAY is not set",
                      "run inside an X11 session, pass --display, or use `deskscribe demo`")]
    try:
        from Xlib import Xatom, display, error
    except ImportError:
        return [Check("display", FAIL, "python-xlib is not installed",
                      "pip install 'deskscribe[capture]'")]
    try:
        disp = display.Display(display_name)
    except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
        return [Check("display", FAIL, f"cannot open {display_name}: {exc}",
                      "check DISPLAY and that the X server allows this user (xhost/XAUTHORITY)")]
    checks = [Check("display", OK, f"X11 display {display_name}")]
    for ext, why, fix in (
            ("RECORD", "input capture", "enable the RECORD extension (Load \"record\" in xorg.conf)"),
            ("XTEST", "replay and tests", "enable the XTEST extension"),
            ("DAMAGE", "screen change tracking", "enable the DAMAGE extension")):
        present = disp.has_extension(ext)
        checks.append(Check(f"{ext} extension", OK if present else FAIL,
                            f"{'present' if present else 'missing'}: needed for {why}",
                            "" if present else fix))
    root = disp.screen().root
    supported = root.get_full_property(disp.intern_atom("_NET_SUPPORTED"), Xatom.ATOM)
    active = disp.intern_atom("_NET_ACTIVE_WINDOW")
    if supported is not None and active in supported.value:
        checks.append(Check("window manager", OK, "publishes _NET_ACTIVE_WINDOW and stacking"))
    else:
        checks.append(Check("window manager", FAIL, "no EWMH window manager (_NET_ACTIVE_WINDOW)",
                            "run an EWMH window manager such as openbox, xfwm4, mutter or kwin"))
    disp.close()
    return checks


def check_storage(data_dir: Path, min_free_bytes: int, key_store: str) -> list[Check]:
    checks = []
    probe = data_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    status = OK if free >= min_free_bytes else WARN
    checks.append(Check("disk", status, f"{free / 2**30:.1f} GiB free at {data_dir}",
                        "" if status == OK else "free disk space; screenshots pause below "
                        f"{min_free_bytes / 2**20:.0f} MiB"))
    keyring = os_keyring_available()
    if key_store == "file" or (key_store == "auto" and not keyring):
        checks.append(Check("key storage", OK if key_store == "file" else WARN,
                            f"data key in a 0600 file under {data_dir}",
                            "" if key_store == "file" else
                            "install and unlock an OS keyring (gnome-keyring, KWallet)"
                            " to keep the key there"))
    elif keyring:
        checks.append(Check("key storage", OK, "OS keyring available"))
    else:
        checks.append(Check("key storage", FAIL, "key_store = keyring but no OS keyring works",
                            "install/unlock a keyring or set key_store = \"file\" in config.toml"))
    return checks


def check_redaction() -> list[Check]:
    """Recording refuses to start without its redaction engines, so these block it."""
    import importlib.util

    from deskscribe.redact.ocr import find_tessdata

    checks = []
    missing = [name for name in ("phonenumbers", "publicsuffixlist")
               if importlib.util.find_spec(name) is None]
    if missing:
        checks.append(Check("text redaction", FAIL, f"missing {', '.join(missing)}",
                            "pip install 'deskscribe[capture]'"))
    else:
        checks.append(Check("text redaction", OK, "PII patterns and secret rules (offline)"))
    tessdata = find_tessdata()
    if importlib.util.find_spec("tesserocr") is None or tessdata is None:
        checks.append(Check("screenshot redaction", FAIL, "Tesseract (tesserocr + English model) missing",
                            "apt-get install tesseract-ocr-eng; pip install 'deskscribe[capture]'"
                            " (or set frames = false in the policy)"))
    else:
        checks.append(Check("screenshot redaction", OK, f"Tesseract, model in {tessdata}"))
    return checks


def check_demo_tools() -> list[Check]:
    missing = [p for p in ("Xvfb", "openbox", "xdotool", "xterm", "zenity") if shutil.which(p) is None]
    if missing:
        return [Check("demo tools", WARN, f"missing {', '.join(missing)} (only `deskscribe demo` needs them)",
                      "apt-get install xvfb openbox xdotool xterm zenity")]
    return [Check("demo tools", OK, "Xvfb, openbox, xdotool, xterm, zenity")]


def check_collector(url: str | None, fetch: Callable[[], PolicyAnswer | None]) -> list[Check]:
    """Enrolment, and whether the collector's policy lets this device record."""
    if url is None:
        return [Check("collector", WARN, "not enrolled: recording needs --policy FILE",
                      "`deskscribe enrol URL CODE` uses your organisation's policy and uploads")]
    try:
        answer = fetch()
    except DeskscribeError as exc:  # the fetch explains itself (no policy yet, refused credential)
        return [Check("collector", FAIL, f"{url}: {exc}", "ask your data steward")]
    if answer is None:
        return [Check("collector", WARN, f"{url} cannot be reached; the policy fetched last is used",
                      "check the network or the collector's address")]
    if not answer.get("enabled"):
        missing = " and ".join(map(str, answer.get("missing", [])))
        return [Check("collector", FAIL, f"recording is not enabled in region {answer.get('region')}",
                      f"your organisation must record its {missing} first")]
    return [Check("collector", OK, f"enrolled with {url}; policy {answer.get('version')}")]


def check_accessibility(session_bus: str | None, *, probe: Callable[[str], None],
                        qt_always_on: bool) -> list[Check]:
    """The accessibility bus names password fields and the element under each click; without
    it both still work from titles, prompts and nothing, so it is a warning."""
    if not session_bus:
        return [Check("accessibility", WARN, "no D-Bus session: password fields are known from titles and"
                      " prompts only, and clicks carry no element", "record inside a desktop session"
                      " (or dbus-run-session)")]
    try:
        probe(session_bus)
    except DeskscribeError as exc:
        return [Check("accessibility", WARN, f"{exc}: clicks carry no element",
                      "apt-get install at-spi2-core (and log in again)")]
    qt = "" if qt_always_on else "; Qt apps need QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1 in their environment"
    return [Check("accessibility", OK, "AT-SPI bus reachable: GTK apps report the element under each click"
                  f"{qt}; Chromium and Electron apps need --force-renderer-accessibility,"
                  " LibreOffice its Java/assistive option")]


def check_browser(*, manifests: Mapping[str, Path], status: Callable[[], dict[str, Any]]) -> list[Check]:
    """Designated websites need the host and the extension; apps record without them, so a
    missing piece is a warning."""
    return [_browser_host(manifests), _browser_extension(status)]


def _browser_host(manifests: Mapping[str, Path]) -> Check:
    installed = []
    for name, path in manifests.items():
        if not path.exists():
            continue
        launcher = launcher_of(path)
        if launcher is None or not os.access(launcher, os.X_OK):
            return Check("browser host", WARN,
                         f"the {name} manifest {path} names no launcher that runs"
                         f" ({launcher or 'unreadable manifest'})",
                         f"deskscribe browser install --browser {name}")
        installed.append(name)
    if installed:
        return Check("browser host", OK, f"native messaging host installed for {', '.join(installed)}")
    return Check("browser host", WARN,
                 "no native messaging host installed (only designated websites need it)",
                 "deskscribe browser install --browser chromium|chrome|firefox")


def _browser_extension(status: Callable[[], dict[str, Any]]) -> Check:
    try:
        reply = status()
    except RecorderNotRunning:
        return Check("browser extension", WARN,
                     "no recorder running (start deskscribe record to check the extension)")
    except ControlError as exc:
        return Check("browser extension", WARN, f"the running recorder did not answer: {exc}")
    info = reply.get("browser")
    if not isinstance(info, dict):
        return Check("browser extension", WARN, "the running recorder takes no browser reports",
                     "designate websites in the policy (designated_sites) and restart deskscribe record")
    if info.get("protocol") != PROTOCOL:
        return Check("browser extension", WARN, f"the running recorder speaks browser protocol"
                     f" {info.get('protocol')}, this deskscribe {PROTOCOL}", "restart deskscribe record")
    connected = info.get("connected")
    if isinstance(connected, int) and connected > 0:
        return Check("browser extension", OK, f"{connected} extension connection(s) to the running recorder")
    return Check("browser extension", WARN, "no extension is connected to the running recorder",
                 "load the extension (deskscribe browser extension-path)"
                 " in a browser with the host installed")


def run_checks(*, display_name: str | None, wayland: bool, data_dir: Path, min_free_bytes: int,
               key_store: str, collector: list[Check] | None = None, browser: list[Check] | None = None,
               accessibility: list[Check] | None = None, console: Console | None = None) -> bool:
    """Print every check; True when nothing is failing."""
    console = console or Console()
    checks = (check_display(display_name, wayland) + check_storage(data_dir, min_free_bytes, key_store)
              + check_redaction() + check_demo_tools() + (accessibility or []) + (collector or [])
              + (browser or []))
    for c in checks:
        console.print(f"{_MARK[c.status]} [bold]{c.name}[/]: {c.detail}")
        if c.fix:
            console.print(f"    fix: {c.fix}")
    failing = [c for c in checks if c.status == FAIL]
    console.print("[green]ready to record[/]" if not failing else
                  f"[red]{len(failing)} problem(s) block recording[/]")
    return not failing
