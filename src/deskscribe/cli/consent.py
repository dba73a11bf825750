"""`deskscribe consent`: read, acknowledge or withdraw from the recording notice."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.control import ControlError, request, socket_path
from deskscribe.notice import notice_version, render_notice
from deskscribe.policy import load_policy

if TYPE_CHECKING:
    pass
from deskscribe.cli.config import DataDirOpt, PolicyOpt, UserError, ledger, load_config

consent_app = typer.Typer(help="Read, acknowledge or withdraw from the recording notice.",
                          no_args_is_help=True)


@consent_app.command("show")
def consent_show(policy: PolicyOpt, data_dir: DataDirOpt = None) -> None:
    """Print the notice for this policy and whether you have acknowledged it."""
    pol = load_policy(policy)
    state = ledger(load_config(data_dir).data_dir).state()
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
    ledger(load_config(data_dir).data_dir).append("accept", version)
    typer.echo(f"acknowledged notice {version}")


@consent_app.command("withdraw")
def consent_withdraw(data_dir: DataDirOpt = None) -> None:
    """Object to recording: stops a running recorder at once; recording needs a new acknowledgement."""
    cfg = load_config(data_dir)
    ledger(cfg.data_dir).append("withdraw", None)
    try:
        request(socket_path(cfg.data_dir), {"cmd": "withdraw"})
        typer.echo("withdrawn; the running recorder stopped")
    except ControlError:
        typer.echo("withdrawn; no recorder was running")

