"""`deskscribe consent`: read, acknowledge or withdraw from the recording notice."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from deskscribe.cli import collector_policy
from deskscribe.cli.config import DataDirOpt, PolicyOpt, ledger, load_config
from deskscribe.cli.contributor import report_consent
from deskscribe.control import request, socket_path
from deskscribe.errors import ControlError, UserError
from deskscribe.notice import notice_version, render_notice

consent_app = typer.Typer(help="Read, acknowledge or withdraw from the recording notice.",
                          no_args_is_help=True)


@consent_app.command("show")
def consent_show(policy: PolicyOpt = None, data_dir: DataDirOpt = None) -> None:
    """Print the notice for this policy and whether you have acknowledged it."""
    root = load_config(data_dir).data_dir
    pol = collector_policy.resolve(policy, root)
    state = ledger(root).state()
    version = notice_version(pol)
    typer.echo(render_notice(pol))
    status = ("acknowledged" if state.accepted_version == version else
              "withdrawn" if state.withdrawn else "not acknowledged")
    typer.echo(f"notice version {version}: {status}")


@consent_app.command("accept")
def consent_accept(policy: PolicyOpt = None, data_dir: DataDirOpt = None,
                   yes: Annotated[bool, typer.Option("--yes", help="Accept without asking.")] = False
                   ) -> None:
    """Acknowledge the notice for this policy; recording needs it."""
    root = load_config(data_dir).data_dir
    pol = collector_policy.resolve(policy, root)
    typer.echo(render_notice(pol))
    if not yes:
        if not sys.stdin.isatty():
            raise UserError("no terminal to ask on; read the notice above and pass --yes to accept")
        if not typer.confirm("Do you acknowledge this notice?"):
            raise UserError("not acknowledged; nothing will be recorded")
    version = notice_version(pol)
    ledger(root).append("accept", version)
    typer.echo(f"acknowledged notice {version}" + report_consent(root))


@consent_app.command("withdraw")
def consent_withdraw(data_dir: DataDirOpt = None) -> None:
    """Object to recording: stops a running recorder at once; recording needs a new acknowledgement."""
    cfg = load_config(data_dir)
    ledger(cfg.data_dir).append("withdraw", None)
    try:
        request(socket_path(cfg.data_dir), {"cmd": "withdraw"})
        said = "withdrawn; the running recorder stopped"
    except ControlError:
        said = "withdrawn; no recorder was running"
    typer.echo(said + report_consent(cfg.data_dir))

