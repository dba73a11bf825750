"""`deskscribe serve` and `deskscribe admin`: commands run on the collector's machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deskscribe.cli.config import DataDirOpt

DEFAULT_PORT = 8470

admin_app = typer.Typer(help="Steward tasks run on the collector's machine.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
admin_app.add_typer(audit_app, name="audit")

DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL: sqlite:///PATH or "
                                           "postgresql://USER@HOST/DB (default: SQLite in the data dir).")]


def _default_db(data_dir: Path | None) -> tuple[str, Path]:
    from deskscribe.cli.config import load_config

    root = load_config(data_dir).data_dir / "collector"
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'collector.db'}", root / "blobs"


def open_store(db: str | None, blobs: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import SQLAlchemyError

    from deskscribe.cli.config import UserError
    from deskscribe.collector.store import CollectorStore, connect

    default_db, default_blobs = _default_db(data_dir)
    try:
        return CollectorStore(engine=connect(db or default_db), blobs=blobs or default_blobs)
    except (SQLAlchemyError, ValueError) as exc:
        raise UserError(f"cannot open the collector database {db or default_db}: "
                        f"{str(exc).splitlines()[0]}") from None


def serve(db: DbOpt = None,
          blobs: Annotated[Path | None, typer.Option(help="Directory for uploaded blobs.")] = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
          data_dir: DataDirOpt = None) -> None:
    """Run the collector (embedded SQLite by default; --db postgresql://... in production)."""
    import uvicorn

    from deskscribe.collector.app import create_app

    store = open_store(db, blobs, data_dir)
    typer.echo(f"collector on http://{host}:{port} (database {store.engine.url.render_as_string()})",
               err=True)
    uvicorn.run(create_app(store=store), host=host, port=port, log_level="warning")


@admin_app.command("enrol-code")
def enrol_code(role: Annotated[str, typer.Option(help="contributor, steward, ml_engineer or auditor.")]
               = "contributor", db: DbOpt = None, data_dir: DataDirOpt = None) -> None:
    """Create a one-time enrolment code for one device."""
    from deskscribe.cli.config import UserError
    from deskscribe.collector.store import Invalid

    try:
        typer.echo(open_store(db, None, data_dir).create_enrol_code(role))
    except Invalid as exc:
        raise UserError(str(exc)) from None


@audit_app.command("verify")
def audit_verify(db: DbOpt = None, data_dir: DataDirOpt = None) -> None:
    """Check the audit log's hash chain; exit 2 naming the first altered entry."""
    from deskscribe.cli.config import UserError

    bad = open_store(db, None, data_dir).audit_verify()
    if bad is not None:
        raise UserError(f"the audit log was altered at entry {bad} (or an entry before it was removed)")
    typer.echo("audit log intact")



