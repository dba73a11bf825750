"""`deskscribe serve` and `deskscribe admin`: commands run on the collector's machine.

Admin commands work on the collector's database directly (as the local steward), so they
need the same --db, --blobs and --key-file as `serve`.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.cli.config import DataDirOpt
from deskscribe.cli.plural import count
from deskscribe.errors import UserError

if TYPE_CHECKING:
    from deskscribe.collector.roles import Device
    from deskscribe.collector.store import CollectorStore

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
    from deskscribe.envelope import load_or_create_private

    root = load_config(data_dir).data_dir / "collector"
    url = db or f"sqlite:///{root / 'collector.db'}"
    blobs = blobs or root / "blobs"
    if db is None:
        root.mkdir(parents=True, exist_ok=True)
    try:
        private = load_or_create_private(key_file or blobs.parent / "collector.key")
        return CollectorStore.open(engine=connect(url), blobs=blobs, private_key=private)
    except (SQLAlchemyError, ValueError) as exc:
        raise UserError(f"cannot open the collector database {url}: {str(exc).splitlines()[0]}") from None


@contextmanager
def _refused() -> Iterator[None]:
    """The store's refusals (4xx over HTTP) become one-line errors here."""
    from deskscribe.errors import CollectorError

    try:
        yield
    except CollectorError as exc:
        raise UserError(str(exc)) from None


def _steward() -> Device:
    from deskscribe.collector.roles import Device

    return Device(LOCAL_STEWARD, "", "steward")


def serve(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on (1-65535).")] = DEFAULT_PORT,
          data_dir: DataDirOpt = None) -> None:
    """Run the collector (embedded SQLite by default; --db postgresql://... in production).
    Retention is enforced at start and every hour."""
    import uvicorn

    from deskscribe.collector.app import create_app
    from deskscribe.collector.retention import sweep

    if not 1 <= port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, not {port}")
    store = open_store(db, blobs, key_file, data_dir)
    sockets = _listen(host, port)  # before the banner: a taken port is the only thing said
    stop = threading.Event()

    def retention() -> None:
        while True:
            try:
                sweep(store)
            except Exception as exc:  # a bad stored policy or a lost database: say so, try next hour
                typer.echo(f"warning: retention sweep failed ({exc}); trying again in an hour", err=True)
            if stop.wait(RETENTION_EVERY_S):
                return

    threading.Thread(target=retention, name="retention", daemon=True).start()
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"collector on http://{shown}:{port} (database {store.engine.url.render_as_string()})",
               err=True)
    try:
        uvicorn.Server(uvicorn.Config(create_app(store=store), log_level="warning")).run(sockets=sockets)
    finally:
        stop.set()
        for sock in sockets:
            sock.close()


def _listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address ``host`` names, or one line saying why that cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on {host}: {exc.strerror}") from None
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in {(i[0], i[1], i[2], "", i[4]): None for i in infos}:
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # "::" and "0.0.0.0" side by side, as asyncio does
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in bound:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is in use") from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return bound


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
    typer.echo(f"built dataset {row.id}: {count(row.episodes, 'episode')},"
               f" {count(row.steps, 'step')} from {count(row.contributors, 'contributor')}")


@dataset_app.command("rebuild")
def dataset_rebuild(dataset_id: str, db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                    data_dir: DataDirOpt = None) -> None:
    """Build a stale dataset again from what may still be used."""
    from deskscribe.collector.datasets import DatasetBuilds

    with _refused():
        builds = DatasetBuilds(store=open_store(db, blobs, key_file, data_dir))
        row = builds.rebuild(_steward(), dataset_id)
    typer.echo(f"rebuilt {dataset_id} as {row.id}: {count(row.steps, 'step')} from"
               f" {count(row.contributors, 'contributor')}")


@dataset_app.command("list")
def dataset_list(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                 data_dir: DataDirOpt = None) -> None:
    """Datasets on the collector, with their state (ready, stale after an erasure, expired)."""
    from deskscribe.collector.datasets import DatasetBuilds

    for row in DatasetBuilds(store=open_store(db, blobs, key_file, data_dir)).listing(_steward()):
        why = f"  ({row.stale_reason})" if row.stale_reason else ""
        typer.echo(f"{row.id}  {row.state:8s} {row.fmt:5s} {count(row.steps, 'step'):>13s}"
                   f"  {count(row.contributors, 'contributor')}{why}")


@admin_app.command("retention")
def retention_run(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                  data_dir: DataDirOpt = None) -> None:
    """Delete now what the current policy's retention no longer allows (serve does it hourly)."""
    from deskscribe.collector.retention import sweep

    gone = sweep(open_store(db, blobs, key_file, data_dir))
    typer.echo(f"expired {count(gone['sessions'], 'session')} and {count(gone['datasets'], 'dataset')}")
