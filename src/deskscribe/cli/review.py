"""`deskscribe review`: see what each session holds, delete what should not go, approve the rest."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from deskscribe.cli.config import DataDirOpt, load_config, open_datadir
from deskscribe.cli.plural import count
from deskscribe.cli.sessions import skipped, usable
from deskscribe.dataset.build import UNREADABLE, unreadable
from deskscribe.dataset.preview import describe, session_actions
from deskscribe.errors import UserError

review_app = typer.Typer(help="See what your sessions hold, delete what should not go, approve the rest.",
                         invoke_without_command=True)


def _outbox(data_dir: Path | None) -> Any:
    from deskscribe.outbox import Outbox

    return Outbox(root=load_config(data_dir).data_dir)


@review_app.callback()
def review(ctx: typer.Context, data_dir: DataDirOpt = None) -> None:
    """List sealed sessions with what they hold and whether they are approved or uploaded."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Column, Table

    _, dd = open_datadir(data_dir)
    box = _outbox(data_dir)
    approved, pending = box.approved(), set(box.pending())
    table = Table("duration", "actions", "apps", "frames", "state")
    table.columns.insert(0, Column("session", no_wrap=True))  # ids are what the next commands take
    infos = {i.session_id: i for i in dd.sessions()}
    for sid in usable(infos.values()):
        info = infos[sid]
        try:
            with dd.open(sid) as reader:
                actions, apps = session_actions(reader)
        except UNREADABLE as exc:
            skipped(sid, unreadable(exc))
            continue
        kinds = Counter(a.type for a in actions)
        state = ("approved, waiting" if info.session_id in pending else "uploaded"
                 if info.session_id in approved else "to review")
        table.add_row(info.session_id, f"{info.duration_s:.0f}s",
                      ", ".join(f"{k} {n}" for k, n in kinds.most_common()) or "none",
                      ", ".join(apps), str(info.frames), state)
    Console().print(table)
    typer.echo("next: `deskscribe review show ID`, `deskscribe sessions frames ID --out DIR`,"
               " `deskscribe review delete ID` or `deskscribe review approve ID`")


@review_app.command("show")
def show(session_id: str, data_dir: DataDirOpt = None) -> None:
    """Every action of one session, as a dataset would hold it."""
    _, dd = open_datadir(data_dir)
    with dd.open(session_id) as reader:
        actions, apps = session_actions(reader)
    typer.echo(f"session {session_id}: {count(len(actions), 'action')} in {', '.join(apps) or 'no app'}")
    for i, a in enumerate(actions, start=1):
        typer.echo(f"{i:4d}  {a.t_ns / 1e9:8.1f}s  {describe(a)}")


@review_app.command("approve")
def approve(session_ids: list[str], data_dir: DataDirOpt = None) -> None:
    """Approve sessions for upload (`deskscribe upload` sends them)."""
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
    _, dd = open_datadir(data_dir)
    box = _outbox(data_dir)
    for sid in session_ids:
        dd.delete(sid)
        box.forget(sid)
        typer.echo(f"deleted {sid}")


@review_app.command("drop")
def drop(session_id: str,
         steps: Annotated[list[int], typer.Argument(help="Step numbers as `review show` lists them.")],
         data_dir: DataDirOpt = None) -> None:
    """Delete single steps of a session (their actions and the screenshots shown with them)."""
    from deskscribe.dataset.preview import step_contents

    _, dd = open_datadir(data_dir)
    box = _outbox(data_dir)
    if session_id in box.approved() and session_id not in box.pending():
        raise UserError(f"session {session_id} is already uploaded; `deskscribe me delete` erases"
                        " what the collector holds")
    with dd.open(session_id) as reader:
        if not reader.sealed:
            raise UserError(f"session {session_id} is still recording or was cut off; stop it first")
        events = list(reader.iter_events())
        actions, _ = session_actions(reader, events)
    try:
        drop_events, drop_frames = step_contents(events, actions, steps)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    dd.rewrite(session_id, drop_events=drop_events, drop_frames=drop_frames)
    if session_id in box.approved():
        box.forget(session_id)
        typer.echo(f"session {session_id} changed, so it needs approving again")
    typer.echo(f"deleted {count(len(steps), 'step')} from {session_id}: {count(len(drop_events), 'event')}"
               f" and {count(len(drop_frames), 'screenshot')}")
