"""`deskscribe review`: see what each session holds, delete what should not go, give episodes
their instructions, approve the rest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.cli.config import DataDirOpt, PolicyOpt, load_config, open_datadir
from deskscribe.cli.plural import count
from deskscribe.cli.sessions import skipped, usable
from deskscribe.dataset.build import UNREADABLE, unreadable
from deskscribe.dataset.preview import describe, session_actions
from deskscribe.errors import UserError
from deskscribe.web import changes

if TYPE_CHECKING:
    from deskscribe.dataset.episodes import Episode
    from deskscribe.outbox import Outbox
    from deskscribe.redact.text import Redacted
    from deskscribe.web.uploads import Progress

review_app = typer.Typer(help="See what your sessions hold, delete what should not go, approve the rest.",
                         invoke_without_command=True)


def _outbox(data_dir: Path | None) -> Outbox:
    from deskscribe.outbox import Outbox

    return Outbox(root=load_config(data_dir).data_dir)


def _without_instruction(episodes: list[Episode]) -> str:
    missing = sum(not ep.instruction for ep in episodes)
    return str(len(episodes)) + (f" ({missing} without instruction)" if missing else "")


@review_app.callback()
def review(ctx: typer.Context, data_dir: DataDirOpt = None,
           web: Annotated[bool, typer.Option(
               "--web", help="Review in your browser: each screenshot with its action drawn on it.")] = False,
           port: Annotated[int, typer.Option(
               help="Port for --web on 127.0.0.1 (default: any free port).", show_default=False)] = 0,
           no_open: Annotated[bool, typer.Option(
               "--no-open", help="With --web, only print the address instead of opening a browser.")] = False,
           policy: PolicyOpt = None) -> None:
    """List sealed sessions with what they hold and whether they are approved or uploaded
    (--web: review them in your browser)."""
    if ctx.invoked_subcommand is not None:
        if web:
            raise UserError(f"--web opens the review pages; give it without `{ctx.invoked_subcommand}`")
        return
    if web:
        _serve(data_dir, policy, port, open_browser=not no_open)
        return
    if no_open or port:
        raise UserError("--port and --no-open go with --web")
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
                episodes = changes.episodes_of(reader, events)
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
        episodes = changes.episodes_of(reader, events)
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
             instruction: Annotated[str, typer.Argument(
                 help="The task, as you would tell an agent (may be left out with --outcome).")] = "",
             outcome: Annotated[str | None, typer.Option(
                 help="How the task ended: success or fail (corrects what `task end` recorded).")] = None,
             policy: PolicyOpt = None, data_dir: DataDirOpt = None) -> None:
    """Give an episode its instruction or outcome, or correct them, before the session is approved.

    The text is scanned like window titles before it is stored (encrypted, beside the session),
    so an address or number in it is replaced as the policy says."""
    cfg, dd = open_datadir(data_dir)
    done = changes.annotate(dd, _outbox(data_dir), session_id, episode, instruction,
                            lambda text: _scanned(text, policy, cfg.data_dir), outcome=outcome)
    typer.echo(f"episode {episode} of {session_id}: {done.said()}")


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
    box = _outbox(data_dir)
    for sid in session_ids:
        changes.approve(dd, box, sid)
        typer.echo(f"approved {sid}")


@review_app.command("delete")
def delete(session_ids: list[str], data_dir: DataDirOpt = None) -> None:
    """Delete sessions that should not leave this computer."""
    _, dd = open_datadir(data_dir)
    box = _outbox(data_dir)
    for sid in session_ids:
        changes.delete(dd, box, sid)
        typer.echo(f"deleted {sid}")


@review_app.command("drop")
def drop(session_id: str,
         steps: Annotated[list[int], typer.Argument(help="Step numbers as `review show` lists them.")],
         data_dir: DataDirOpt = None) -> None:
    """Delete single steps of a session (their actions and the screenshots shown with them)."""
    _, dd = open_datadir(data_dir)
    done = changes.drop_steps(dd, _outbox(data_dir), session_id, steps)
    if done.reapprove:
        typer.echo(f"session {session_id} changed, so it needs approving again")
    typer.echo(f"deleted {count(len(steps), 'step')} from {session_id}: {count(done.events, 'event')}"
               f" and {count(done.frames, 'screenshot')}")


def _serve(data_dir: Path | None, policy: Path | None, port: int, *, open_browser: bool) -> None:
    """The review pages on 127.0.0.1 only, for the browser that opens the printed link."""
    import socket
    import webbrowser

    import uvicorn

    from deskscribe.web.guard import LOOPBACK, Guard, loopback_host
    from deskscribe.web.review_app import create_app

    if not 0 <= port <= 65535:
        raise UserError(f"--port must be between 1 and 65535 (or 0 for any free port), not {port}")
    cfg, dd = open_datadir(data_dir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {LOOPBACK}:{port} ({exc.strerror});"
                        " choose another --port") from None
    sock.listen(64)
    host = loopback_host(sock.getsockname()[1])
    guard = Guard()
    app = create_app(datadir=dd, outbox=_outbox(data_dir), guard=guard, host=host,
                     scan=lambda text: _scanned(text, policy, cfg.data_dir), send=_sender(data_dir))
    url = f"http://{host}/login?token={guard.login_token}"
    typer.echo(url)
    typer.echo("the link works once, in one browser; Ctrl+C stops the review pages", err=True)
    if open_browser and not webbrowser.open(url):
        typer.echo("could not start a browser; open the link above yourself", err=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        app.state.review.uploads.join()
        app.state.review.screenshots.close()
        sock.close()


def _sender(data_dir: Path | None) -> Callable[[str, Progress], None]:
    """What `deskscribe upload SESSION` does for one approved session, with progress."""
    from deskscribe.cli.config import ledger
    from deskscribe.cli.contributor import _deposit_key
    from deskscribe.cli.enrolment import open_client
    from deskscribe.upload import Uploader

    def send(session_id: str, progress: Progress) -> None:
        cfg, dd = open_datadir(data_dir)
        if ledger(cfg.data_dir).state().withdrawn:
            raise UserError("you withdrew consent, so nothing is uploaded; `deskscribe consent accept`"
                            " takes part again")
        box = _outbox(data_dir)
        if session_id not in box.pending():
            raise UserError(f"session {session_id} is not approved and waiting for upload")
        with open_client(cfg.data_dir) as client:
            if client.report_consent(ledger(cfg.data_dir).for_collector()):
                raise UserError("the collector records that you withdrew consent; nothing is uploaded")
            _deposit_key(client, dd, cfg.data_dir)
            copy = box.upload_copy(session_id, write=dd.write_upload_copy)
            Uploader(client=client).upload(session_id, copy, progress)
            box.mark_uploaded(session_id)

    return send
