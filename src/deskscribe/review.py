"""`deskscribe review`: the contributor sees what each session holds before anything leaves.

Sessions are shown as the actions a dataset would contain (decrypted locally), with the apps
they happened in; the contributor deletes what should not go and approves the rest. Only
approved sessions are uploaded.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from deskscribe.dataset.actions import Action
from deskscribe.dataset.reduce import ReduceParams, reduce_events
from deskscribe.events import FOCUS
from deskscribe.store import SessionReader

review_app = typer.Typer(help="See what your sessions hold, delete what should not go, approve the rest.",
                         invoke_without_command=True)
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="deskscribe's data directory.")]


def session_actions(reader: SessionReader) -> tuple[list[Action], list[str]]:
    """The actions a build would derive, and the apps they happened in."""
    meta = reader.meta
    events = list(reader.iter_events())
    params = ReduceParams(double_click_ms=meta.double_click_ms, double_click_px=meta.double_click_px)
    apps = sorted({str(e.data.get("app")) for _, e in events if e.kind == FOCUS and e.data.get("app")})
    return reduce_events(events, params), apps


def describe(a: Action) -> str:
    f = a.fields
    if a.type == "type":
        return f"type {str(f['text'])!r}"
    if a.type == "key":
        return "key " + "+".join(map(str, f["keys"]))
    if a.type in ("click", "long_press", "move", "scroll", "drag"):
        rest = {k: v for k, v in f.items() if k not in ("x", "y")}
        return f"{a.type} at ({f.get('x')}, {f.get('y')}) {rest if rest else ''}".rstrip()
    return f"{a.type} {dict(f)}"


def _outbox(data_dir: Path | None) -> Any:
    from deskscribe.cli import load_config
    from deskscribe.upload import Outbox

    return Outbox(path=load_config(data_dir).data_dir / "outbox.json")


@review_app.callback()
def review(ctx: typer.Context, data_dir: DataDirOpt = None) -> None:
    """List sealed sessions with what they hold and whether they are approved or uploaded."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from deskscribe.cli import open_datadir

    _, dd = open_datadir(data_dir)
    box = _outbox(data_dir)
    approved, pending = box.approved(), set(box.pending())
    table = Table("session", "duration", "actions", "apps", "frames", "state")
    for info in dd.sessions():
        if not info.sealed or info.error:
            continue
        actions, apps = session_actions(dd.open(info.session_id))
        kinds = Counter(a.type for a in actions)
        state = ("approved, waiting" if info.session_id in pending else "uploaded"
                 if info.session_id in approved else "to review")
        table.add_row(info.session_id, f"{info.duration_s:.0f}s",
                      ", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "none",
                      ", ".join(apps), str(info.frames), state)
    Console().print(table)
    typer.echo("next: `deskscribe review show ID`, `deskscribe sessions frames ID --out DIR`,"
               " `deskscribe review delete ID` or `deskscribe review approve ID`")


@review_app.command("show")
def show(session_id: str, data_dir: DataDirOpt = None) -> None:
    """Every action of one session, as a dataset would hold it."""
    from deskscribe.cli import open_datadir

    _, dd = open_datadir(data_dir)
    actions, apps = session_actions(dd.open(session_id))
    typer.echo(f"session {session_id}: {len(actions)} actions in {', '.join(apps) or 'no app'}")
    for i, a in enumerate(actions, start=1):
        typer.echo(f"{i:4d}  {a.t_ns / 1e9:8.1f}s  {describe(a)}")


@review_app.command("approve")
def approve(session_ids: list[str], data_dir: DataDirOpt = None) -> None:
    """Approve sessions for upload (`deskscribe upload` sends them)."""
    from deskscribe.cli import UserError, open_datadir

    _, dd = open_datadir(data_dir)
    infos = {i.session_id: i for i in dd.sessions()}
    box = _outbox(data_dir)
    for sid in session_ids:
        if sid not in infos or not infos[sid].sealed:
            raise UserError(f"no sealed session {sid} in {dd.root}")
        box.approve(sid)
        typer.echo(f"approved {sid}")


@review_app.command("delete")
def delete(session_ids: list[str], data_dir: DataDirOpt = None) -> None:
    """Delete sessions that should not leave this computer."""
    from deskscribe.cli import open_datadir

    _, dd = open_datadir(data_dir)
    box = _outbox(data_dir)
    for sid in session_ids:
        dd.delete(sid)
        box.forget(sid)
        typer.echo(f"deleted {sid}")
