"""`deskscribe sessions`: inspect and delete locally recorded sessions."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from deskscribe.cli.config import DataDirOpt, UserError, open_datadir
from deskscribe.control import ControlError, request, socket_path

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
    from deskscribe.dataset.frames import FrameSource

    _, dd = open_datadir(data_dir)
    reader = dd.open(session_id)
    out.mkdir(parents=True, exist_ok=True)
    ids = reader.frame_ids()
    frames = FrameSource(reader=reader)
    for frame_id in ids:
        frames.image(frame_id).save(out / f"frame-{frame_id:06d}.png")
    reader.close()
    typer.echo(f"wrote {len(ids)} frames to {out}")
