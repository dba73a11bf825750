"""`deskscribe serve` and `deskscribe admin`: commands run on the collector's machine.

Admin commands work on the collector's database directly (as the local steward), so they
need the same --db, --blobs and --key-file as `serve`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.cli.config import DataDirOpt, UserError

if TYPE_CHECKING:
    from deskscribe.collector.store import CollectorStore, Device

DEFAULT_PORT = 8470
RETENTION_EVERY_S = 3600.0

admin_app = typer.Typer(help="Steward tasks run on the collector's machine.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
policy_app = typer.Typer(help="Publish the policy recorders fetch.", no_args_is_help=True)
region_app = typer.Typer(help="Record the DPIA / works agreement a region's rules require.",
                         no_args_is_help=True)
dataset_app = typer.Typer(help="Build datasets from uploaded sessions (10 contributors at least).",
                          no_args_is_help=True)
admin_app.add_typer(audit_app, name="audit")
admin_app.add_typer(policy_app, name="policy")
admin_app.add_typer(region_app, name="region")
admin_app.add_typer(dataset_app, name="dataset")

DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL: sqlite:///PATH or "
                                           "postgresql://USER@HOST/DB (default: SQLite in the data dir).")]
BlobsOpt = Annotated[Path | None, typer.Option("--blobs", help="Directory for uploaded blobs and datasets.")]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key-file", help="The collector's private key (default: collector.key beside the blobs directory);"
                       " keep it out of the database's backups.")]
LOCAL_STEWARD = "local-steward"


def open_store(db: str | None, blobs: Path | None, key_file: Path | None,
               data_dir: Path | None) -> CollectorStore:
    from sqlalchemy.exc import SQLAlchemyError

    from deskscribe.cli.config import load_config
    from deskscribe.collector.store import CollectorStore, connect
    from deskscribe.keys import load_or_create_private

    root = load_config(data_dir).data_dir / "collector"
    url = db or f"sqlite:///{root / 'collector.db'}"
    blobs = blobs or root / "blobs"
    if db is None:
        root.mkdir(parents=True, exist_ok=True)
    try:
        private = load_or_create_private(key_file or blobs.parent / "collector.key")
        return CollectorStore(engine=connect(url), blobs=blobs, private_key=private)
    except (SQLAlchemyError, ValueError) as exc:
        raise UserError(f"cannot open the collector database {url}: {str(exc).splitlines()[0]}") from None


@contextmanager
def _refused() -> Iterator[None]:
    """The store's refusals (4xx over HTTP) become one-line errors here."""
    from deskscribe.collector.store import CollectorError

    try:
        yield
    except CollectorError as exc:
        raise UserError(str(exc)) from None


def _steward() -> Device:

    from deskscribe.collector.store import Device

    return Device(LOCAL_STEWARD, "", "steward")


def serve(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
          data_dir: DataDirOpt = None) -> None:
    """Run the collector (embedded SQLite by default; --db postgresql://... in production).
    Retention is enforced at start and every hour."""
    import uvicorn

    from deskscribe.collector.app import create_app
    from deskscribe.collector.retention import sweep

    store = open_store(db, blobs, key_file, data_dir)
    stop = threading.Event()

    def retention() -> None:
        while True:
            sweep(store)
            if stop.wait(RETENTION_EVERY_S):
                return

    threading.Thread(target=retention, name="retention", daemon=True).start()
    typer.echo(f"collector on http://{host}:{port} (database {store.engine.url.render_as_string()})",
               err=True)
    try:
        uvicorn.run(create_app(store=store), host=host, port=port, log_level="warning")
    finally:
        stop.set()


@admin_app.command("enrol-code")
def enrol_code(role: Annotated[str, typer.Option(help="contributor, steward, ml_engineer or auditor.")]
               = "contributor",
               region: Annotated[str | None, typer.Option(
                   help="The region whose policy rules apply to this device, e.g. DE.")] = None,
               db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
               data_dir: DataDirOpt = None) -> None:
    """Create a one-time enrolment code for one device."""
    with _refused():
        typer.echo(open_store(db, blobs, key_file, data_dir).create_enrol_code(role, region=region))


@admin_app.command("revoke")
def revoke(device_id: str, db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
           data_dir: DataDirOpt = None) -> None:
    """Revoke a device's credential (a lost or retired laptop)."""
    with _refused():
        open_store(db, blobs, key_file, data_dir).revoke(device_id, actor=LOCAL_STEWARD)
    typer.echo(f"revoked device {device_id}")


@audit_app.command("verify")
def audit_verify(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                 data_dir: DataDirOpt = None) -> None:
    """Check the audit log's hash chain; exit 2 naming the first altered entry."""
    bad = open_store(db, blobs, key_file, data_dir).audit_verify()
    if bad is not None:
        raise UserError(f"the audit log was altered at entry {bad} (or an entry before it was removed)")
    typer.echo("audit log intact")


@policy_app.command("publish")
def policy_publish(file: Annotated[Path, typer.Argument(help="Policy TOML with a version.")],
                   db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                   data_dir: DataDirOpt = None) -> None:
    """Publish a policy version; recorders fetch it on start and periodically."""
    from deskscribe.collector.policies import Policies

    try:
        body = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {file}: {exc}") from None
    with _refused():
        version = Policies(store=open_store(db, blobs, key_file, data_dir)).publish(body, actor=LOCAL_STEWARD)
    typer.echo(f"published policy {version}")


@region_app.command("approve")
def region_approve(region: str,
                   dpia: Annotated[str | None, typer.Option(help="Reference of the recorded DPIA.")] = None,
                   works_agreement: Annotated[str | None, typer.Option(
                       help="Reference of the works agreement.")] = None,
                   db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                   data_dir: DataDirOpt = None) -> None:
    """Record the references a region's rules require; recording there starts once all are on record."""
    from deskscribe.collector.policies import Policies

    with _refused():
        Policies(store=open_store(db, blobs, key_file, data_dir)).approve_region(
            region, dpia=dpia, works_agreement=works_agreement, actor=LOCAL_STEWARD)
    typer.echo(f"recorded for region {region}")


@dataset_app.command("build")
def dataset_build(fmt: Annotated[str, typer.Option("--format", help="hf, jsonl or chat.")] = "hf",
                  precision_ms: Annotated[int, typer.Option(help="Time offsets are rounded down to this.")]
                  = 100,
                  db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                  data_dir: DataDirOpt = None) -> None:
    """Build a dataset from every readable uploaded session (contributors who objected are left out)."""
    from deskscribe.collector.datasets import DatasetBuilds

    with _refused():
        builds = DatasetBuilds(store=open_store(db, blobs, key_file, data_dir))
        row = builds.build(_steward(), fmt, precision_ms)
    typer.echo(f"built dataset {row['id']}: {row['episodes']} episodes, {row['steps']} steps from"
               f" {row['contributors']} contributors")


@dataset_app.command("rebuild")
def dataset_rebuild(dataset_id: str, db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                    data_dir: DataDirOpt = None) -> None:
    """Build a stale dataset again from what may still be used."""
    from deskscribe.collector.datasets import DatasetBuilds

    with _refused():
        builds = DatasetBuilds(store=open_store(db, blobs, key_file, data_dir))
        row = builds.rebuild(_steward(), dataset_id)
    typer.echo(f"rebuilt {dataset_id} as {row['id']}: {row['steps']} steps from {row['contributors']}"
               " contributors")


@dataset_app.command("list")
def dataset_list(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                 data_dir: DataDirOpt = None) -> None:
    """Datasets on the collector, with their state (ready, stale after an erasure, expired)."""
    from deskscribe.collector.datasets import DatasetBuilds

    for row in DatasetBuilds(store=open_store(db, blobs, key_file, data_dir)).listing(_steward()):
        why = f"  ({row['stale_reason']})" if row["stale_reason"] else ""
        typer.echo(f"{row['id']}  {row['state']:8s} {row['fmt']:5s} {row['steps']:7d} steps"
                   f"  {row['contributors']} contributors{why}")


@admin_app.command("retention")
def retention_run(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                  data_dir: DataDirOpt = None) -> None:
    """Delete now what the current policy's retention no longer allows (serve does it hourly)."""
    from deskscribe.collector.retention import sweep

    gone = sweep(open_store(db, blobs, key_file, data_dir))
    typer.echo(f"expired {gone['sessions']} sessions and {gone['datasets']} datasets")
