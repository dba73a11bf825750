"""Command line: the only place that reads configuration and environment and wires parts."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deskscribe import __version__
from deskscribe.capture.base import CaptureUnavailable
from deskscribe.control import ControlError, ControlServer, request, socket_path
from deskscribe.datadir import DataDir
from deskscribe.events import Monitor, SessionMeta, os_description
from deskscribe.keys import DataKeyError, FileKeyBackend, KeyBackend, KeyringBackend, os_keyring_available
from deskscribe.notice import LEDGER_NAME, Ledger, notice_version, render_notice
from deskscribe.policy import Policy, PolicyError, load_policy
from deskscribe.recording import control_handler, run_until_stopped
from deskscribe.store import StoreError
from deskscribe.vdisplay import VirtualDisplayError

if TYPE_CHECKING:
    from deskscribe.capture.atspi import PasswordFocus
    from deskscribe.capture.hotkey import Hotkey
    from deskscribe.indicator import TrayIndicator
    from deskscribe.recorder import Recorder
    from deskscribe.redact.stage import Redactor
    from deskscribe.redact.text import TextScanner

app = typer.Typer(help="Record work-app interaction with consent, redact on device, build agent datasets.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
sessions_app = typer.Typer(help="Inspect and delete locally recorded sessions.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
consent_app = typer.Typer(help="Read, acknowledge or withdraw from the recording notice.",
                          no_args_is_help=True)
app.add_typer(consent_app, name="consent")
task_app = typer.Typer(help="Mark where a task starts and ends while recording.", no_args_is_help=True)
app.add_typer(task_app, name="task")

DEFAULT_BUDGET_MB = 2048
DEFAULT_MIN_FREE_MB = 500


class UserError(Exception):
    """Shown as one line; exit status 2."""


DEFAULT_HOTKEY = "ctrl+alt+shift+p"


@dataclass(frozen=True)
class Config:
    data_dir: Path
    key_store: str
    storage_budget_bytes: int
    min_free_bytes: int
    pause_hotkey: str = DEFAULT_HOTKEY


def _config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(os.environ.get("DESKSCRIBE_CONFIG", Path(base) / "deskscribe" / "config.toml"))


def load_config(data_dir: Path | None) -> Config:
    path = _config_path()
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    rec = raw.get("recorder", {})
    default_dir = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "deskscribe"
    key_store = str(rec.get("key_store", "auto"))
    if key_store not in ("auto", "file", "keyring"):
        raise UserError(f"{path}: key_store must be auto, file or keyring, not {key_store!r}")
    return Config(
        data_dir=(data_dir or Path(rec.get("data_dir", default_dir))).expanduser(),
        key_store=key_store,
        storage_budget_bytes=int(rec.get("storage_budget_mb", DEFAULT_BUDGET_MB)) * 1024 * 1024,
        min_free_bytes=int(rec.get("min_free_mb", DEFAULT_MIN_FREE_MB)) * 1024 * 1024,
        pause_hotkey=str(rec.get("pause_hotkey", DEFAULT_HOTKEY)),
    )


def key_backend(cfg: Config, contributor_id: str) -> KeyBackend:
    use_keyring = cfg.key_store == "keyring" or (cfg.key_store == "auto" and os_keyring_available())
    if use_keyring:
        return KeyringBackend(account=f"contributor:{contributor_id}")
    return FileKeyBackend(path=cfg.data_dir / "contributor.key")


def open_datadir(data_dir: Path | None) -> tuple[Config, DataDir]:
    cfg = load_config(data_dir)
    bootstrap = DataDir(root=cfg.data_dir, key_backend=FileKeyBackend(path=cfg.data_dir / "contributor.key"))
    cid = bootstrap.contributor_id
    return cfg, DataDir(root=cfg.data_dir, key_backend=key_backend(cfg, cid))


DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where sessions are stored "
                                                  "(default: ~/.local/share/deskscribe).")]


@app.command()
def record(
    policy: Annotated[Path, typer.Option("--policy", help="Policy TOML naming the designated apps.")],
    data_dir: DataDirOpt = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    display: Annotated[str | None, typer.Option(help="X display (default: $DISPLAY).")] = None,
) -> None:
    """Record the designated apps until Ctrl+C, SIGTERM or --duration; then seal the session."""
    from deskscribe.capture import open_leaf
    from deskscribe.recorder import Recorder

    pol = load_policy(policy)
    cfg, dd = open_datadir(data_dir)
    leaf = open_leaf(display_name=_display_name(display), policy=pol)  # captures nothing yet
    version = notice_version(pol)
    if _ledger(cfg.data_dir).state().accepted_version != version:
        raise UserError(f"the notice for this policy ({version}) is not acknowledged, so nothing is"
                        f" recorded; read it with `deskscribe consent show --policy {policy}` and accept"
                        f" with `deskscribe consent accept --policy {policy}`")
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
                            handle=control_handler(lambda: handlers[0], meta.session_id))
    scanner, redactor = _redaction(pol)  # loaded before capture, so no event waits for it
    dd.enforce_budget(cfg.storage_budget_bytes)
    writer = dd.create(meta)
    password_focus = _password_focus()
    recorder = Recorder(leaf=leaf, writer=writer, policy=pol, scanner=scanner, redactor=redactor,
                        hotkey=_hotkey(cfg.pause_hotkey), password_focus=password_focus.since)
    handlers.append(recorder)
    recorder.set_frames_paused(dd.free_bytes() < cfg.min_free_bytes)  # decided before any frame
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    recorder.start()
    control.start()
    tray = _tray(display, recorder, stop)
    typer.echo(f"recording session {meta.session_id} (designated: {', '.join(pol.designated_apps)});"
               f" Ctrl+C stops{', ' + cfg.pause_hotkey + ' pauses' if cfg.pause_hotkey else ''}", err=True)
    try:
        run_until_stopped(recorder, writer, dd, stop, duration=duration, session_id=meta.session_id,
                          budget_bytes=cfg.storage_budget_bytes, min_free_bytes=cfg.min_free_bytes,
                          indicator=tray)
    finally:
        control.stop()
        if tray is not None:
            tray.stop()
    recorder.stop()
    password_focus.stop()
    writer.close(seal=True)
    if recorder.failure:
        raise UserError(f"recording stopped early: {recorder.failure}; session {meta.session_id}"
                        " was sealed with everything captured until then")
    s = recorder.stats
    typer.echo(f"sealed session {meta.session_id}: {writer.events_written} events, "
               f"{writer.frames_written} frames, {writer.bytes_written} bytes, "
               f"{s.inputs_excluded} inputs outside designated apps not recorded, "
               f"{s.dropped + writer.dropped} dropped")


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


class _NoAccessibility:
    def since(self, mono_ns: int) -> bool:
        return False

    def stop(self) -> None:
        pass


def _password_focus() -> PasswordFocus | _NoAccessibility:
    """Password fields known from the accessibility bus where the desktop has one; policy
    titles and terminal prompts are recognised either way."""
    from deskscribe.capture.atspi import AccessibilityUnavailable, PasswordFocus

    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        typer.echo("note: no D-Bus session, so password fields are recognised from window titles"
                   " and terminal prompts only", err=True)
        return _NoAccessibility()
    watcher = PasswordFocus(session_bus=address)
    try:
        watcher.start()
    except AccessibilityUnavailable as exc:
        typer.echo(f"note: {exc}; password fields are recognised from window titles and terminal"
                   " prompts only", err=True)
        return _NoAccessibility()
    return watcher


def _hotkey(spec: str) -> Hotkey | None:
    from deskscribe.capture.hotkey import Hotkey

    if not spec:
        return None
    try:
        return Hotkey.parse(spec)
    except ValueError as exc:
        raise UserError(f"{_config_path()}: pause_hotkey: {exc}") from None


def _redaction(pol: Policy) -> tuple[TextScanner, Redactor]:
    from deskscribe.redact.frames import FrameRedactor
    from deskscribe.redact.ocr import OcrUnavailable, TesseractOcr
    from deskscribe.redact.stage import NoFrames
    from deskscribe.redact.text import TextScanner

    scanner = TextScanner(deny_list=pol.deny_list)
    if not pol.frames:
        return scanner, NoFrames()
    try:
        return scanner, FrameRedactor(ocr=TesseractOcr(), scanner=scanner)
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


@sessions_app.command("list")
def sessions_list(data_dir: DataDirOpt = None,
                  as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False
                  ) -> None:
    """List recorded sessions, oldest first."""
    _, dd = open_datadir(data_dir)
    infos = dd.sessions()
    if as_json:
        typer.echo(json.dumps([{
            "id": i.session_id, "sealed": i.sealed, "events": i.events, "frames": i.frames,
            "duration_s": round(i.duration_s, 3), "bytes": i.size_bytes,
            "started": _local_time(i.started_wall_ns), "error": i.error} for i in infos], indent=2))
        return
    if not infos:
        typer.echo(f"no sessions in {dd.root}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "started", "duration", "events", "frames", "size", "state")
    for i in infos:
        state = f"[red]damaged: {i.error}[/]" if i.error else ("sealed" if i.sealed else "open/crashed")
        table.add_row(i.session_id, _local_time(i.started_wall_ns) or "?", f"{i.duration_s:.1f}s",
                      str(i.events), str(i.frames), f"{i.size_bytes / 1024:.0f} KiB", state)
    Console().print(table)


def _local_time(wall_ns: int | None) -> str | None:
    return None if wall_ns is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall_ns / 1e9))


@sessions_app.command("delete")
def sessions_delete(session_id: str, data_dir: DataDirOpt = None) -> None:
    """Delete a session and everything recorded in it."""
    _, dd = open_datadir(data_dir)
    try:
        live = request(socket_path(dd.root), {"cmd": "status"}, timeout=2.0).get("session")
    except ControlError:
        live = None
    if live == session_id:
        raise UserError(f"session {session_id} is being recorded; stop the recorder first")
    dd.delete(session_id)
    typer.echo(f"deleted session {session_id}")


@sessions_app.command("dump")
def sessions_dump(session_id: str, data_dir: DataDirOpt = None,
                  meta: Annotated[bool, typer.Option(help="Print the session metadata first.")] = False
                  ) -> None:
    """Print a session's decrypted raw events as JSON lines."""
    _, dd = open_datadir(data_dir)
    reader = dd.open(session_id)
    out = sys.stdout
    if meta:
        out.write(json.dumps({"kind": "session", **reader.meta.to_json()}) + "\n")
    for event_id, event in reader.iter_events():
        out.write(json.dumps(event.to_json(event_id), ensure_ascii=False) + "\n")
    reader.close()


@sessions_app.command("frames")
def sessions_frames(session_id: str,
                    out: Annotated[Path, typer.Option("--out", help="Directory for the PNG files.")],
                    data_dir: DataDirOpt = None) -> None:
    """Write every stored screenshot of a session as a full PNG (keyframe + crops applied)."""
    from deskscribe.capture.screen import rebuild

    _, dd = open_datadir(data_dir)
    reader = dd.open(session_id)
    out.mkdir(parents=True, exist_ok=True)
    ids = reader.frame_ids()
    for frame_id in ids:
        rebuild(reader.frame_chain(frame_id)).save(out / f"frame-{frame_id:06d}.png")
    reader.close()
    typer.echo(f"wrote {len(ids)} frames to {out}")


PolicyOpt = Annotated[Path, typer.Option("--policy", help="Policy TOML naming the designated apps.")]


def _ledger(data_dir: Path) -> Ledger:
    return Ledger(path=data_dir / LEDGER_NAME)


@consent_app.command("show")
def consent_show(policy: PolicyOpt, data_dir: DataDirOpt = None) -> None:
    """Print the notice for this policy and whether you have acknowledged it."""
    pol = load_policy(policy)
    state = _ledger(load_config(data_dir).data_dir).state()
    version = notice_version(pol)
    typer.echo(render_notice(pol))
    status = ("acknowledged" if state.accepted_version == version else
              "withdrawn" if state.withdrawn else "not acknowledged")
    typer.echo(f"notice version {version}: {status}")


@consent_app.command("accept")
def consent_accept(policy: PolicyOpt, data_dir: DataDirOpt = None,
                   yes: Annotated[bool, typer.Option("--yes", help="Accept without asking.")] = False
                   ) -> None:
    """Acknowledge the notice for this policy; recording needs it."""
    pol = load_policy(policy)
    typer.echo(render_notice(pol))
    if not yes:
        if not sys.stdin.isatty():
            raise UserError("no terminal to ask on; read the notice above and pass --yes to accept")
        if not typer.confirm("Do you acknowledge this notice?"):
            raise UserError("not acknowledged; nothing will be recorded")
    version = notice_version(pol)
    _ledger(load_config(data_dir).data_dir).append("accept", version)
    typer.echo(f"acknowledged notice {version}")


@consent_app.command("withdraw")
def consent_withdraw(data_dir: DataDirOpt = None) -> None:
    """Object to recording: stops a running recorder at once; recording needs a new acknowledgement."""
    cfg = load_config(data_dir)
    _ledger(cfg.data_dir).append("withdraw", None)
    try:
        request(socket_path(cfg.data_dir), {"cmd": "withdraw"})
        typer.echo("withdrawn; the running recorder stopped")
    except ControlError:
        typer.echo("withdrawn; no recorder was running")


@app.command()
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


@app.command()
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


@app.command()
def build(
    out: Annotated[Path, typer.Option("--out", help="Directory for the dataset.")],
    sessions: Annotated[list[str] | None, typer.Argument(help="Session ids (default: all sealed).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="hf (Parquet + card), jsonl, or chat.")] = "hf",
    data_dir: DataDirOpt = None,
    release_key: Annotated[Path | None, typer.Option(
        help="File with this release's pseudonym key (created if missing; default: a new random key,"
             " so pseudonyms link to no other release).")] = None,
    precision_ms: Annotated[int, typer.Option(help="Time offsets are rounded down to this.")] = 100,
) -> None:
    """Turn recorded sessions into an agent-training dataset (reduce, pair, segment, export)."""
    from rich.progress import Progress

    from deskscribe.dataset.build import Release, build_dataset
    from deskscribe.dataset.export import FORMATS, open_exporter

    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if precision_ms < 1:
        raise UserError("--precision-ms must be at least 1")
    _, dd = open_datadir(data_dir)
    ids = sessions or [i.session_id for i in dd.sessions() if i.sealed and not i.error]
    if not ids:
        raise UserError(f"no sealed sessions in {dd.root}; record one first (deskscribe record/demo)")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty; choose a new directory for the dataset")
    release = Release(key=_release_key(release_key), precision_ms=precision_ms)
    with Progress(transient=True) as bar:
        task = bar.add_task("building", total=len(ids))
        summary = build_dataset(datadir=dd, session_ids=ids, exporter=open_exporter(fmt, out=out),
                                release=release, fmt=fmt, progress=lambda _: bar.advance(task))
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.actions.items()))
    typer.echo(f"built {fmt} dataset in {out}: {summary.episodes} episodes, {summary.steps} steps"
               f" ({kinds}), {summary.bytes / 1024:.0f} KiB")


@app.command()
def replay(
    export_dir: Annotated[Path, typer.Argument(help="A `--format jsonl` export.")],
    launch: Annotated[str, typer.Option(help="Command that starts a fresh instance of the app.")],
    episode: Annotated[str | None, typer.Option(help="Episode id (default: the first).")] = None,
) -> None:
    """Re-perform an episode on a fresh virtual desktop and report how many steps reproduce."""
    import shlex

    from deskscribe.dataset.replay import ReplayError, load_episode, run_replay

    try:
        steps = load_episode(export_dir, episode)
        results = run_replay(export_dir=export_dir, steps=steps, command=shlex.split(launch),
                             progress=lambda r: typer.echo(
                                 f"step {r.step:3d} {r.action:10s} {r.similarity:7.2%}"
                                 f" {'match' if r.matched else 'differs'}"))
    except (ReplayError, VirtualDisplayError) as exc:
        raise UserError(str(exc)) from None
    matched = sum(r.matched for r in results)
    typer.echo(f"replayed episode {steps[0]['episode_id']}: {matched}/{len(results)} steps reproduce"
               f" the recorded screen ({matched / max(len(results), 1):.0%})")


def _release_key(path: Path | None) -> bytes:
    import secrets

    if path is None:
        return secrets.token_bytes(32)
    if path.exists():
        key = path.read_bytes()
        if len(key) < 16:
            raise UserError(f"release key {path} is too short (need at least 16 bytes)")
        return key
    key = secrets.token_bytes(32)
    path.write_bytes(key)
    path.chmod(0o600)
    return key


@app.command()
def doctor(data_dir: DataDirOpt = None,
           display: Annotated[str | None, typer.Option(help="X display to check.")] = None) -> None:
    """Check what recording needs on this machine and say how to fix what is missing."""
    from deskscribe.doctor import run_checks

    cfg = load_config(data_dir)
    ok = run_checks(display_name=display or os.environ.get("DISPLAY"),
                    wayland=bool(os.environ.get("WAYLAND_DISPLAY")), data_dir=cfg.data_dir,
                    min_free_bytes=cfg.min_free_bytes, key_store=cfg.key_store)
    raise typer.Exit(0 if ok else 1)


@app.command()
def demo(data_dir: DataDirOpt = None) -> None:
    """Start a virtual desktop with real apps, record a scripted session, show what was kept."""
    from deskscribe.demo import run_demo

    _, dd = open_datadir(data_dir)
    try:
        run_demo(datadir=dd, command=os.path.relpath(sys.argv[0]) if os.sep in sys.argv[0] else "deskscribe")
    except (VirtualDisplayError, RuntimeError) as exc:
        raise UserError(f"demo failed: {exc}") from None


@app.command()
def version() -> None:
    """Print the deskscribe version."""
    typer.echo(__version__)


def _collector_commands() -> None:
    from deskscribe.collector.commands import register

    register(app)


_collector_commands()


def main() -> None:
    try:
        app()
    except (UserError, PolicyError, StoreError, CaptureUnavailable, DataKeyError, ControlError) as exc:
        typer.echo(f"deskscribe: error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        typer.echo(f"deskscribe: error: {exc.strerror or exc} ({exc.filename or ''})", err=True)
        sys.exit(2)
