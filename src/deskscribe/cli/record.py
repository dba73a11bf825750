"""`deskscribe record`, and the commands that steer a running recorder."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe import __version__
from deskscribe.cli import collector_policy
from deskscribe.cli.config import (
    Config,
    DataDirOpt,
    PolicyOpt,
    config_path,
    ledger,
    load_config,
    open_datadir,
)
from deskscribe.control import ControlServer, request, socket_path
from deskscribe.errors import CaptureUnavailable, UserError
from deskscribe.events import Monitor, SessionMeta, os_description
from deskscribe.notice import notice_version
from deskscribe.policy import Policy
from deskscribe.policy_watch import PolicyWatch
from deskscribe.run_loop import control_handler, run_until_stopped

if TYPE_CHECKING:
    from deskscribe.browser.source import BrowserSource
    from deskscribe.capture.atspi import PasswordFocus
    from deskscribe.capture.atspi_targets import AccessibleTargets
    from deskscribe.capture.atspi_text import AccessibleText
    from deskscribe.capture.hotkey import Hotkey
    from deskscribe.capture.terminal import EchoProbe
    from deskscribe.context import ContextSource
    from deskscribe.datadir import DataDir
    from deskscribe.indicator import TrayIndicator
    from deskscribe.pipeline.recorder import Recorder
    from deskscribe.redact.stage import Redactor
    from deskscribe.redact.text import TextScanner

task_app = typer.Typer(help="Mark where a task starts and ends while recording.", no_args_is_help=True)


def record(
    policy: PolicyOpt = None,
    data_dir: DataDirOpt = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    display: Annotated[str | None, typer.Option(help="X display (default: $DISPLAY).")] = None,
) -> None:
    """Record the designated apps until Ctrl+C, SIGTERM or --duration (seconds of recording, not
    counting start-up); then seal the session.
    Under a collector's policy, a newly published policy seals the session and recording goes
    on under the new one when its notice is acknowledged."""
    from deskscribe.cli.recording import hand_over

    hand_over(policy=policy, data_dir=data_dir, duration=duration, display=display)


def run(*, policy: Path | None, data_dir: Path | None, duration: float | None, display: str | None) -> None:
    """Record until stopped, session after session while the collector publishes new policies."""
    from deskscribe.heap import hold_mmap_threshold

    hold_mmap_threshold()  # before the engines load: see deskscribe.heap
    cfg, dd = open_datadir(data_dir)
    left = duration
    while True:
        pol = collector_policy.resolve(policy, cfg.data_dir)
        changed, recorded_s = _record_session(pol, policy, cfg, dd, left, display)
        if not changed:
            return
        left = None if left is None else max(0.0, left - recorded_s)
        typer.echo("the collector published a new policy; the session is sealed and recording goes on"
                   " under the new one", err=True)


def _record_session(pol: Policy, policy: Path | None, cfg: Config, dd: DataDir, duration: float | None,
                    display: str | None) -> tuple[bool, float]:
    """One session under one policy: whether it ended because a new policy was published, and
    for how many seconds it recorded."""
    from deskscribe.capture import open_leaf
    from deskscribe.pipeline.recorder import Recorder

    scanner, redactor = _redaction(pol)  # loaded before capture, so no event waits for it
    browser = _browser_source(pol, scanner)
    leaf = open_leaf(display_name=_display_name(display), policy=pol,  # captures nothing yet
                     page_area=browser.page_area if browser else lambda info: None)
    version = notice_version(pol)
    if ledger(cfg.data_dir).state().accepted_version != version:
        where = f" --policy {policy}" if policy else ""
        raise UserError(f"the notice for this policy ({version}) is not acknowledged, so nothing is"
                        f" recorded; read it with `deskscribe consent show{where}` and accept"
                        f" with `deskscribe consent accept{where}`")
    pointer = leaf.pointer_settings()
    meta = SessionMeta(
        session_id=dd.new_session_id(), contributor_id=dd.contributor_id,
        started_wall_ns=time.time_ns(), os=os_description(),
        monitors=tuple(Monitor(*m) for m in leaf.monitors()),
        double_click_ms=pointer.double_click_ms, double_click_px=pointer.double_click_px,
        policy_version=pol.version, recorder_version=__version__, notice_version=version,
        extra={"double_click_source": pointer.source, "timing_precision_ms": pol.timing_precision_ms})
    handlers: list[Recorder] = []  # the control socket exists before the session does
    control = ControlServer(path=socket_path(dd.root),
                            handle=control_handler(lambda: handlers[0], meta.session_id, browser=browser),
                            streams={"browser": browser.attach} if browser else {})
    dd.enforce_budget(cfg.storage_budget_bytes)
    writer = dd.create(meta)
    contexts = _context_sources(pol, scanner) + ([browser] if browser else [])
    recorder = Recorder(leaf=leaf, writer=writer, policy=pol, scanner=scanner, redactor=redactor,
                        hotkey=_hotkey(cfg.pause_hotkey), contexts=contexts)
    handlers.append(recorder)
    for source in contexts:  # sources that find targets on their own thread wake the pipeline
        if hasattr(source, "on_target"):
            source.on_target = recorder.targets_arrived
    if browser is not None:
        def page_changed() -> None:
            leaf.relayout()
            recorder.context_changed()

        browser.on_change = page_changed
    recorder.set_frames_paused(dd.free_bytes() < cfg.min_free_bytes)  # decided before any frame
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    watch = None if policy is not None else PolicyWatch(
        fetch=lambda: collector_policy.fetch(cfg.data_dir), current=pol, every_s=cfg.policy_refresh_s,
        on_change=stop.set)
    recorder.start()
    control.start()
    if watch is not None:
        watch.start()
    tray = _tray(display, recorder, stop)
    typer.echo(f"recording session {meta.session_id} (designated: {', '.join(pol.designated_apps)});"
               f" Ctrl+C stops{', ' + cfg.pause_hotkey + ' pauses' if cfg.pause_hotkey else ''}", err=True)
    try:
        recorded_s = run_until_stopped(
            recorder, writer, dd, stop, duration=duration, session_id=meta.session_id,
            budget_bytes=cfg.storage_budget_bytes, min_free_bytes=cfg.min_free_bytes, indicator=tray)
    finally:
        control.stop()
        if tray is not None:
            tray.stop()
        if watch is not None:
            watch.stop()
    recorder.stop()
    for source in contexts:
        source.stop()
    writer.close(seal=True)
    if recorder.failure:
        raise UserError(f"recording stopped early: {recorder.failure}; session {meta.session_id}"
                        " was sealed with everything captured until then")
    s = recorder.stats
    typer.echo(f"sealed session {meta.session_id}: {writer.events_written} events, "
               f"{writer.frames_written} frames, {writer.bytes_written} bytes, "
               f"{s.inputs_excluded} inputs outside designated apps and {s.inputs_paused} while paused"
               " not recorded, "
               f"{s.dropped + writer.dropped} dropped")
    return watch is not None and watch.changed, recorded_s


def _tray(display: str | None, recorder: Recorder, stop: threading.Event) -> TrayIndicator | None:
    """A tray icon where the desktop has a tray; otherwise the status line is the indicator."""
    from deskscribe.indicator import TrayIndicator, tray_available

    name = _display_name(display)
    if not tray_available(name):
        return None
    os.environ["DISPLAY"] = name  # pystray opens the display named there
    tray = TrayIndicator(on_pause=recorder.pause, on_resume=recorder.resume, on_stop=stop.set)
    tray.start()
    return tray


def _browser_source(pol: Policy, scanner: TextScanner) -> BrowserSource | None:
    """Designated websites need the browser extension to say which page is in front."""
    if not pol.designated_sites:
        return None
    from deskscribe.browser.source import BrowserSource

    return BrowserSource(policy=pol, scanner=scanner)


def _context_sources(pol: Policy, scanner: TextScanner) -> list[ContextSource]:
    """What can tell the pipeline about the inside of windows on this desktop."""
    sources: list[ContextSource] = []
    for source in (_password_focus(), _echo_probe(), _accessible_targets(pol),
                   _accessible_text(pol, scanner)):
        if source is not None:
            sources.append(source)
    return sources


def _password_focus() -> PasswordFocus | None:
    """Password fields known from the accessibility bus where the desktop has one; policy
    titles and terminal prompts are recognised either way."""
    from deskscribe.capture.atspi import PasswordFocus
    from deskscribe.errors import AccessibilityUnavailable

    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        typer.echo("note: no D-Bus session, so password fields are recognised from window titles"
                   " and terminal prompts only", err=True)
        return None
    watcher = PasswordFocus(session_bus=address)
    try:
        watcher.start()
    except AccessibilityUnavailable as exc:
        typer.echo(f"note: {exc}; password fields are recognised from window titles and terminal"
                   " prompts only", err=True)
        return None
    return watcher


def _accessible_targets(pol: Policy) -> AccessibleTargets | None:
    """The element under each click, from the accessibility bus where the desktop has one
    (browsers report their own page's elements through the extension)."""
    from deskscribe.capture.atspi_targets import AccessibleTargets
    from deskscribe.errors import AccessibilityUnavailable

    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        return None  # said once already, by the password-field check
    targets = AccessibleTargets(session_bus=address, wanted=lambda w: pol.is_designated(w.app, w.title))
    try:
        targets.start()
    except AccessibilityUnavailable as exc:
        typer.echo(f"note: {exc}; clicks are recorded without the element under them", err=True)
        return None
    return targets


def _accessible_text(pol: Policy, scanner: TextScanner) -> AccessibleText | None:
    """Text widgets read from the accessibility bus, so OCR skips them (screenshots only)."""
    from deskscribe.browser.page import ScanCache
    from deskscribe.capture.atspi_text import AccessibleText
    from deskscribe.errors import AccessibilityUnavailable

    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address or not pol.frames:
        return None
    text = AccessibleText(session_bus=address, scanner=ScanCache(scanner=scanner),
                          wanted=lambda w: pol.is_designated(w.app, w.title) and not pol.is_browser(w.app))
    try:
        text.start()
    except AccessibilityUnavailable:
        return None  # said once already, by the password-field check
    return text


def _echo_probe() -> EchoProbe | None:
    """Terminal password prompts from the ptys' echo state, where /proc shows processes."""
    from deskscribe.capture.terminal import EchoProbe

    if not Path("/proc/self/stat").exists():
        typer.echo("note: no /proc, so terminal password prompts are recognised from the command"
                   " typed before them only", err=True)
        return None
    return EchoProbe()


def _hotkey(spec: str) -> Hotkey | None:
    from deskscribe.capture.hotkey import Hotkey

    if not spec:
        return None
    try:
        return Hotkey.parse(spec)
    except ValueError as exc:
        raise UserError(f"{config_path()}: pause_hotkey: {exc}") from None


def _redaction(pol: Policy) -> tuple[TextScanner, Redactor]:
    from deskscribe.errors import OcrUnavailable
    from deskscribe.redact.frames import FrameRedactor
    from deskscribe.redact.ocr import TesseractOcr
    from deskscribe.redact.stage import NoFrames
    from deskscribe.redact.text import TextScanner

    scanner = TextScanner(deny_list=pol.deny_list)
    if not pol.frames:
        return scanner, NoFrames()
    try:
        return scanner, FrameRedactor(ocr=TesseractOcr(), scanner=scanner, known=pol.deny_list)
    except OcrUnavailable as exc:
        raise UserError(str(exc)) from None


def _display_name(flag: str | None) -> str:
    name = flag or os.environ.get("DISPLAY")
    if not name and os.environ.get("WAYLAND_DISPLAY"):
        raise CaptureUnavailable("this is a Wayland session without X11; deskscribe records X11"
                                 " sessions only (log in with an X11/Xorg session)")
    if not name:
        raise CaptureUnavailable("no display: DISPLAY is not set; run inside an X11 session,"
                                 " pass --display, or try `deskscribe demo` for a virtual one")
    return name



def pause(
    minutes: Annotated[float | None, typer.Option("--for", help="Resume by itself after N minutes.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Pause the running recorder: nothing is captured until `deskscribe resume`."""
    if minutes is not None and minutes <= 0:
        raise UserError("--for takes a positive number of minutes")
    cfg = load_config(data_dir)
    request(socket_path(cfg.data_dir), {"cmd": "pause", "minutes": minutes})
    typer.echo("paused" + (f" for {minutes:g} min" if minutes else "; `deskscribe resume` continues"))


def resume(data_dir: DataDirOpt = None) -> None:
    """Resume a paused recorder."""
    cfg = load_config(data_dir)
    request(socket_path(cfg.data_dir), {"cmd": "resume"})
    typer.echo("recording resumed")


@task_app.command("start")
def task_start(
    instruction: Annotated[str, typer.Argument(help="What the task is, as you would tell an agent.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Start a task: the steps until `task end` form one episode with this instruction."""
    cfg = load_config(data_dir)
    request(socket_path(cfg.data_dir), {"cmd": "task_start", "instruction": instruction})
    typer.echo(f"task started: {instruction}")


@task_app.command("end")
def task_end(status: Annotated[str, typer.Option(help="success or fail")] = "success",
             data_dir: DataDirOpt = None) -> None:
    """End the current task with its outcome."""
    cfg = load_config(data_dir)
    request(socket_path(cfg.data_dir), {"cmd": "task_end", "status": status})
    typer.echo(f"task ended: {status}")

