"""`deskscribe serve` and `deskscribe admin`: commands run on the collector's machine.

Admin commands work on the collector's database directly (as the local steward), so they
need the same --db, --blobs and --key-file as `serve`.
"""

from __future__ import annotations

import errno
import ipaddress
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
    from deskscribe.collector.build_engine import BuildEngine
    from deskscribe.collector.roles import Device
    from deskscribe.collector.store import CollectorStore

DEFAULT_PORT = 8470
RETENTION_EVERY_S = 3600.0
READ_TIMEOUT_S = 30.0  # as deskscribe.collector.intake's, here for --help
BODY_TIMEOUT_S = 120.0
KEEP_ALIVE_S = 5
BUILD_LEASE_S = 30.0  # as deskscribe.collector.build_jobs.LEASE_S

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
BlobsOpt = Annotated[str | None, typer.Option(
    "--blobs", help="Where uploaded blobs and datasets go: a directory or s3://BUCKET[/PREFIX] (endpoint"
                    " from [collector] s3_endpoint_url or AWS_ENDPOINT_URL, credentials from AWS_*).")]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key-file", help="The collector's private key (default: collector.key beside the blobs directory);"
                       " keep it out of the database's backups.")]
RayOpt = Annotated[str | None, typer.Option(
    "--ray-address", help="Build on this Ray cluster: auto (the one started on this machine) or HOST:PORT.")]
LOCAL_STEWARD = "local-steward"


def open_store(db: str | None, blobs: str | None, key_file: Path | None,
               data_dir: Path | None) -> CollectorStore:
    from sqlalchemy.exc import SQLAlchemyError

    from deskscribe.cli.config import load_config, s3_options
    from deskscribe.collector.blobs import LocalBlobs, open_blobs
    from deskscribe.collector.store import CollectorStore, connect
    from deskscribe.envelope import load_or_create_private

    cfg = load_config(data_dir)
    root = cfg.data_dir / "collector"
    url = db or f"sqlite:///{root / 'collector.db'}"
    store = open_blobs(blobs or cfg.collector_blobs or root / "blobs", options=s3_options(cfg))
    if db is None:
        root.mkdir(parents=True, exist_ok=True)
    home = store.root.parent if isinstance(store, LocalBlobs) else root
    try:
        private = load_or_create_private(key_file or home / "collector.key")
        return CollectorStore.open(engine=connect(url), blobs=store, private_key=private)
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


def build_engine(engine: str, ray_address: str | None, store: CollectorStore, *,
                 fmt: str | None = None) -> BuildEngine:
    """The engine a build runs on. Serving (``fmt`` None) with a cluster, the formats it cannot
    build stay local; a steward's build asks for one format, which must be one it builds."""
    from deskscribe.collector.build_engine import ByFormat, LocalEngine

    if engine not in ("local", "ray"):
        raise UserError(f"--engine must be local or ray, not {engine!r}")
    local = LocalEngine(scratch=store.scratch)
    if engine == "local" and ray_address is None:
        return local
    from deskscribe.collector.ray_build import FORMATS, RayEngine

    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"the ray engine builds {', '.join(FORMATS)} (Parquet shards); build --format {fmt}"
                        " with --engine local")
    return ByFormat(chosen=RayEngine(address=ray_address or "auto"), formats=FORMATS, rest=local)


def _steward() -> Device:
    from deskscribe.collector.roles import Device

    return Device(LOCAL_STEWARD, "", "steward")


def serve(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on (1-65535).")] = DEFAULT_PORT,
          tls_cert: Annotated[Path | None, typer.Option(
              "--tls-cert", help="PEM certificate (with its chain) to serve HTTPS with; needs --tls-key.")]
          = None,
          tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert.")]
          = None,
          behind_tls_proxy: Annotated[bool, typer.Option(
              "--behind-tls-proxy", help="Serve plain HTTP on a non-loopback address because a TLS proxy"
                                         " in front forwards to it; its X-Forwarded-For names the clients.")]
          = False,
          proxy_address: Annotated[str, typer.Option(
              help="Comma-separated addresses of that proxy (only their X-Forwarded-For is believed).")]
          = "127.0.0.1",
          read_timeout: Annotated[float, typer.Option(
              help="Seconds to wait for the next piece of a request body before cutting the client off.")]
          = READ_TIMEOUT_S,
          body_timeout: Annotated[float, typer.Option(
              help="Seconds a whole request body may take to arrive.")] = BODY_TIMEOUT_S,
          keep_alive: Annotated[int, typer.Option(
              help="Seconds an idle connection stays open between requests.")] = KEEP_ALIVE_S,
          build_lease_s: Annotated[float, typer.Option(
              "--build-lease-s", hidden=True, help="Seconds a dataset build's lease lasts: how long the"
                                                   " build of a collector that died waits for another.")]
          = BUILD_LEASE_S,
          ray_address: RayOpt = None,
          data_dir: DataDirOpt = None) -> None:
    """Run the collector (embedded SQLite by default; --db postgresql://... in production).
    Retention is enforced at start and every hour. Plain HTTP is served on loopback only,
    unless --behind-tls-proxy; give --tls-cert and --tls-key to serve HTTPS anywhere. With
    --ray-address, hf builds the API starts run on that Ray cluster."""
    import uvicorn

    from deskscribe.collector.app import create_app
    from deskscribe.collector.build_jobs import Leases, new_owner
    from deskscribe.collector.datasets import DatasetBuilds
    from deskscribe.collector.intake import Deadlines
    from deskscribe.collector.retention import sweep

    if not 1 <= port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, not {port}")
    for name, seconds in (("--read-timeout", read_timeout), ("--body-timeout", body_timeout),
                          ("--keep-alive", keep_alive), ("--build-lease-s", build_lease_s)):
        if not seconds > 0:
            raise UserError(f"{name} must be a number of seconds above 0, not {seconds}")
    tls = _tls_files(tls_cert, tls_key)
    if why := plain_http_refusal(host, port, tls=tls is not None, behind_proxy=behind_tls_proxy):
        raise UserError(why)
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
    scheme = "http" if tls is None else "https"
    typer.echo(f"collector on {scheme}://{shown}:{port} (database {store.engine.url.render_as_string()})",
               err=True)
    deadlines = Deadlines(read_timeout_s=read_timeout, body_timeout_s=body_timeout)
    leases = Leases(engine=store.engine, wall_ns=store.wall_ns, owner=new_owner(), lease_s=build_lease_s)
    builds = DatasetBuilds(store=store, leases=leases, build_engine=build_engine("local", ray_address, store))
    config = uvicorn.Config(create_app(store=store, builds=builds, deadlines=deadlines), log_level="warning",
                            timeout_keep_alive=keep_alive, proxy_headers=behind_tls_proxy,
                            forwarded_allow_ips=proxy_address, ssl_certfile=tls[0] if tls else None,
                            ssl_keyfile=tls[1] if tls else None)
    try:
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        stop.set()
        for sock in sockets:
            sock.close()


def _tls_files(cert: Path | None, key: Path | None) -> tuple[str, str] | None:
    """The certificate and key to serve HTTPS with, once they load; None for plain HTTP."""
    import ssl

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UserError("--tls-cert and --tls-key go together: give both, or neither")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except ssl.SSLError as exc:  # before OSError: it is one
        raise UserError(f"{cert} and {key} are not a PEM certificate and its private key"
                        f" ({exc.reason})") from None
    except OSError as exc:
        raise UserError(f"cannot read {exc.filename or cert}: {exc.strerror or exc}") from None
    return str(cert), str(key)


def plain_http_refusal(host: str, port: int, *, tls: bool, behind_proxy: bool) -> str | None:
    """Why the collector may not serve ``host`` so (plain HTTP other machines reach), if so."""
    if tls or behind_proxy:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on {host}: {exc.strerror}") from None
    if all(ipaddress.ip_address(str(info[4][0])).is_loopback for info in infos):
        return None
    return (f"refusing plain HTTP on {host}, which other machines can reach: give --tls-cert and --tls-key,"
            " or --behind-tls-proxy when a TLS proxy forwards to it")


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


@admin_app.command("login-link")
def login_link(role: Annotated[str, typer.Option(help="steward, auditor, ml_engineer or contributor.")],
               device: Annotated[str | None, typer.Option(
                   help="A contributor signs in as one of their enrolled devices: its id.")] = None,
               url: Annotated[str, typer.Option(help="The collector's address as browsers reach it.")]
               = f"http://127.0.0.1:{DEFAULT_PORT}",
               db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
               data_dir: DataDirOpt = None) -> None:
    """Print a one-time link that signs a browser in to the console at /ui (valid 15 minutes)."""
    from deskscribe.collector.ui.sign_in import LINK_TTL_S, SignIns

    if not url.startswith(("http://", "https://")):
        raise UserError(f"--url must start with http:// or https://, not {url!r}")
    with _refused():
        secret = SignIns(store=open_store(db, blobs, key_file, data_dir)).create_link(
            role, device_id=device, actor=LOCAL_STEWARD)
    typer.echo(f"sign-in link for one {role.replace('_', ' ')} browser; it works once, for"
               f" {LINK_TTL_S // 60} minutes:", err=True)
    typer.echo(f"{url.rstrip('/')}/ui/sign-in?link={secret}")


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
                  engine: Annotated[str, typer.Option(
                      help="local (in this process) or ray (on a Ray cluster: Parquet formats).")] = "local",
                  ray_address: RayOpt = None,
                  db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                  data_dir: DataDirOpt = None) -> None:
    """Build a dataset from every readable uploaded session (contributors who objected are left out)."""
    from deskscribe.collector.datasets import DatasetBuilds

    store = open_store(db, blobs, key_file, data_dir)
    chosen = build_engine(engine, ray_address, store, fmt=fmt)
    with _refused():
        builds = DatasetBuilds(store=store, build_engine=chosen)
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


@admin_app.command("stats")
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print the cells as JSON.")] = False,
          db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
          data_dir: DataDirOpt = None) -> None:
    """Weekly action counts by app or site across the fleet, with differential-privacy noise;
    a cell appears only with at least 10 contributors in it, and never per person."""
    import json

    from deskscribe.collector.datasets import DatasetBuilds
    from deskscribe.collector.fleet_stats import FleetStatistics
    from deskscribe.collector.policies import Policies

    with _refused():
        store = open_store(db, blobs, key_file, data_dir)
        cells = FleetStatistics(store=store, builds=DatasetBuilds(store=store),
                                policies=Policies(store=store)).weekly(_steward())
    if as_json:
        typer.echo(json.dumps([{"week": c.week, "app": c.app, "action": c.action, "count": c.count}
                               for c in cells], indent=1))
        return
    if not cells:
        typer.echo("no week has ended with a cell of at least 10 contributors yet")
    for c in cells:
        typer.echo(f"{c.week}  {c.app:<32} {c.action:<14} {c.count:>8}")


@admin_app.command("retention")
def retention_run(db: DbOpt = None, blobs: BlobsOpt = None, key_file: KeyOpt = None,
                  data_dir: DataDirOpt = None) -> None:
    """Delete now what the current policy's retention no longer allows (serve does it hourly)."""
    from deskscribe.collector.retention import sweep

    gone = sweep(open_store(db, blobs, key_file, data_dir))
    typer.echo(f"expired {count(gone['sessions'], 'session')} and {count(gone['datasets'], 'dataset')}")
