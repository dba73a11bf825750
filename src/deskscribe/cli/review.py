"""`deskscribe review`: see what each session holds, delete what should not go, give episodes
their instructions, approve the rest."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.cli.config import DataDirOpt, PolicyOpt, load_config, open_datadir
from deskscribe.cli.plural import count
from deskscribe.cli.sessions import skipped, usable
from deskscribe.dataset.build import UNREADABLE, session_episodes, unreadable
from deskscribe.dataset.preview import describe, session_actions
from deskscribe.errors import UserError

if TYPE_CHECKING:
    from deskscribe.dataset.episodes import Episode
    from deskscribe.events import Event
    from deskscribe.outbox import Outbox
    from deskscribe.redact.text import Redacted
    from deskscribe.store import SessionReader

review_app = typer.Typer(help="See what your sessions hold, delete what should not go, approve the rest.",
                         invoke_without_command=True)


def _outbox(data_dir: Path | None) -> Outbox:
    from deskscribe.outbox import Outbox

    return Outbox(root=load_config(data_dir).data_dir)


def _episodes(reader: SessionReader, events: list[tuple[int, Event]]) -> list[Episode]:
    """The session's episodes as a build would make them, with the instructions given here."""
    return session_episodes(reader.meta, events, 1, set(reader.frame_ids()), reader.annotations())


def _without_instruction(episodes: list[Episode]) -> str:
    missing = sum(not ep.instruction for ep in episodes)
    return str(len(episodes)) + (f" ({missing} without instruction)" if missing else "")


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
    table = Table("duration", "actions", "episodes", "apps", "frames", "state")
    table.columns.insert(0, Column("session", no_wrap=True))  # ids are what the next commands take
    infos = {i.session_id: i for i in dd.sessions()}
    for sid in usable(infos.values()):
        info = infos[sid]
        try:
            with dd.open(sid) as reader:
                events = list(reader.iter_events())
                actions, apps = session_actions(reader, events)
                episodes = _episodes(reader, events)
        except UNREADABLE as exc:
            skipped(sid, unreadable(exc))
            continue
        kinds = Counter(a.type for a in actions)
        state = ("approved, waiting" if info.session_id in pending else "uploaded"
                 if info.session_id in approved else "to review")
        table.add_row(info.session_id, f"{info.duration_s:.0f}s",
                      ", ".join(f"{k} {n}" for k, n in kinds.most_common()) or "none",
                      _without_instruction(episodes), ", ".join(apps), str(info.frames), state)
    Console().print(table)
    typer.echo("next: `deskscribe review show ID`, `deskscribe sessions frames ID --out DIR`,"
               " `deskscribe review annotate ID EPISODE TEXT`, `deskscribe review delete ID`"
               " or `deskscribe review approve ID`")


@review_app.command("show")
def show(session_id: str, data_dir: DataDirOpt = None) -> None:
    """Every action of one session, as a dataset would hold it, and its episodes' instructions."""
    _, dd = open_datadir(data_dir)
    with dd.open(session_id) as reader:
        events = list(reader.iter_events())
        actions, apps = session_actions(reader, events)
        episodes = _episodes(reader, events)
    typer.echo(f"session {session_id}: {count(len(actions), 'action')} in {', '.join(apps) or 'no app'}")
    for i, a in enumerate(actions, start=1):
        typer.echo(f"{i:4d}  {a.t_ns / 1e9:8.1f}s  {describe(a)}")
    if not episodes:
        return
    typer.echo(f"{count(len(episodes), 'episode')} (set an instruction with"
               f" `deskscribe review annotate {session_id} EPISODE TEXT`):")
    number = {min(a.event_ids): i for i, a in enumerate(actions, start=1)}
    for n, ep in enumerate(episodes, start=1):
        steps = [number[i] for i in (min(s.action.event_ids) for s in ep.steps if s.action.event_ids)
                 if i in number]
        where = f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}-{steps[-1]}"
        typer.echo(f"{n:4d}  {where:13s}  {_instruction(ep)}")


SOURCES = {"task_start": "from task start", "review": "given in review"}


def _instruction(ep: Episode) -> str:
    if not ep.instruction:
        return "no instruction"
    source = SOURCES.get(ep.instruction_source or "")
    return f"{ep.instruction!r} ({source})" if source else repr(ep.instruction)


@review_app.command("annotate")
def annotate(session_id: str,
             episode: Annotated[int, typer.Argument(help="Episode number as `review show` lists it.")],
             instruction: Annotated[str, typer.Argument(help="The task, as you would tell an agent.")],
             policy: PolicyOpt = None, data_dir: DataDirOpt = None) -> None:
    """Give an episode its instruction, or correct it, before the session is approved.

    The text is scanned like window titles before it is stored (encrypted, beside the session),
    so an address or number in it is replaced as the policy says."""
    from deskscribe.instructions import Annotation

    text = " ".join(instruction.split())
    if not text:
        raise UserError("the instruction is empty; say what the task was")
    cfg, dd = open_datadir(data_dir)
    _refuse_if_sent(_outbox(data_dir), session_id)
    with dd.open(session_id) as reader:
        if not reader.sealed:
            raise UserError(f"session {session_id} is still recording or was cut off; stop it first")
        episodes = _episodes(reader, list(reader.iter_events()))
    if not 1 <= episode <= len(episodes):
        has = f"episodes 1-{len(episodes)}" if episodes else "no episodes"
        raise UserError(f"no episode {episode}: session {session_id} has {has} (see `deskscribe review show"
                        f" {session_id}`)")
    ep = episodes[episode - 1]
    red = _scanned(text, policy, cfg.data_dir)
    first, last = ep.span_ns
    dd.annotate(session_id, Annotation(t_first_ns=first, t_last_ns=last, instruction=red.text,
                                       redacted=tuple(sorted(set(red.kinds)))))
    verb = f"changed from {ep.instruction!r} to" if ep.instruction else "set to"
    replaced = f" (replaced: {', '.join(sorted(set(red.kinds)))})" if red.kinds else ""
    typer.echo(f"episode {episode} of {session_id}: instruction {verb} {red.text!r}{replaced}")


def _refuse_if_sent(box: Outbox, session_id: str) -> None:
    """What was approved is what the contributor agreed to send: it no longer changes."""
    if session_id not in box.approved():
        return
    if session_id in box.pending():
        raise UserError(f"session {session_id} is already approved and waits for upload; its"
                        " instructions can no longer change")
    raise UserError(f"session {session_id} is already uploaded; its instructions can no longer change")


def _scanned(text: str, policy: Path | None, data_dir: Path) -> Redacted:
    """The same detectors, deny list and replacement the policy applies to window titles."""
    from deskscribe.cli import collector_policy
    from deskscribe.redact.text import TextScanner, replace

    pol = collector_policy.resolve(policy, data_dir)
    try:
        findings = TextScanner(deny_list=pol.deny_list).scan(text)
    except ImportError:
        raise UserError("annotating needs the text scanner recording uses;"
                        " install deskscribe[capture]") from None
    return replace(text, findings, synthetic=pol.synthetic_values)


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
