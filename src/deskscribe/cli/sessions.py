"""`deskscribe sessions`: inspect and delete locally recorded sessions."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.cli.config import DataDirOpt, open_datadir
from deskscribe.cli.plural import count
from deskscribe.control import request, socket_path
from deskscribe.errors import ControlError, UserError

if TYPE_CHECKING:
    from deskscribe.datadir import SessionInfo

sessions_app = typer.Typer(help="Inspect and delete locally recorded sessions.", no_args_is_help=True)


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

    # Ids are what every other command takes, so they are never cut; a damaged session's reason
    # goes below the table instead of squeezing every column into a sliver.
    table = Table()
    table.add_column("id", no_wrap=True, min_width=max(len(i.session_id) for i in infos))
    table.add_column("started")
    for name in ("duration", "events", "frames", "size"):
        table.add_column(name, justify="right")
    table.add_column("state", overflow="fold")
    for i in infos:
        state = "[red]damaged[/]" if i.error else ("sealed" if i.sealed else "open/crashed")
        table.add_row(i.session_id, _local_time(i.started_wall_ns) or "?", f"{i.duration_s:.1f}s",
                      str(i.events), str(i.frames), f"{i.size_bytes / 1024:.0f} KiB", state)
    Console().print(table)
    for i in infos:
        if i.error:
            typer.echo(f"damaged {i.session_id}: {i.error}")


def usable(infos: Iterable[SessionInfo]) -> list[str]:
    """Ids of the sealed, readable sessions; each one left out gets a warning line saying why,
    so a build or review never drops a session without a word."""
    ids = []
    for i in infos:
        if i.error:
            skipped(i.session_id, i.error)
        elif not i.sealed:
            skipped(i.session_id, "not sealed (still recording, or cut off before it was sealed)")
        else:
            ids.append(i.session_id)
    return ids


def skipped(session_id: str, reason: str) -> None:
    typer.echo(f"warning: skipped session {session_id}: {reason}", err=True)


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
    out = sys.stdout
    with dd.open(session_id) as reader:
        if meta:
            out.write(json.dumps({"kind": "session", **reader.meta.to_json()}) + "\n")
        for event_id, event in reader.iter_events():
            out.write(json.dumps(event.to_json(event_id), ensure_ascii=False) + "\n")


@sessions_app.command("frames")
def sessions_frames(session_id: str,
                    out: Annotated[Path, typer.Option("--out", help="Directory for the PNG files.")],
                    data_dir: DataDirOpt = None) -> None:
    """Write every stored screenshot of a session as a full PNG (keyframe + crops applied)."""
    from deskscribe.frame_codec import FrameSource

    _, dd = open_datadir(data_dir)
    with dd.open(session_id) as reader:
        out.mkdir(parents=True, exist_ok=True)
        ids = reader.frame_ids()
        frames = FrameSource(reader=reader)
        for frame_id in ids:
            frames.image(frame_id).save(out / f"frame-{frame_id:06d}.png")
    typer.echo(f"wrote {count(len(ids), 'frame')} to {out}")
