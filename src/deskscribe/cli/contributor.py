"""Commands a contributor's device runs against the collector: enrol, upload, and `me`
(export and erasure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.cli.config import DataDirOpt
from deskscribe.cli.plural import count

if TYPE_CHECKING:
    from deskscribe.client import CollectorClient
    from deskscribe.datadir import DataDir, SessionInfo
    from deskscribe.outbox import Outbox

PSEUDONYM = "contributor.json"  # DataDir.contributor_id keeps it there


def enrol(url: Annotated[str, typer.Argument(help="The collector's address, e.g. https://collector.example")],
          code: Annotated[str, typer.Argument(help="The one-time code from your data steward.")],
          ca: Annotated[Path | None, typer.Option(
              "--ca", help="PEM certificate authority the collector's HTTPS certificate must come from"
                           " (kept with the credential for every later call).")] = None,
          data_dir: DataDirOpt = None) -> None:
    """Exchange an enrolment code for this device's credential (kept 0600 in the data dir)."""
    from deskscribe.cli.config import load_config
    from deskscribe.cli.enrolment import read_ca, save_credential
    from deskscribe.client import CollectorClient

    base = url.rstrip("/")
    ca_pem = read_ca(ca, base) if ca else None
    with CollectorClient(base_url=base, retries=0, timeout_s=30, ca_pem=ca_pem) as client:  # a person waits
        enrolled = client.enrol(code)
    save_credential(load_config(data_dir).data_dir, {"url": base, **enrolled}, ca_pem=ca_pem)
    typer.echo(f"enrolled as device {enrolled['device_id']}")


def upload(sessions: Annotated[list[str] | None, typer.Argument(
               help="Approved sessions to send (default: every approved session not sent yet).")] = None,
           data_dir: DataDirOpt = None,
           max_kib_s: Annotated[float | None, typer.Option(help="Bandwidth cap in KiB/s.")] = None) -> None:
    """Upload the sessions you approved with `deskscribe review approve`; safe to repeat after a
    crash or network loss: what the collector holds is not sent again."""
    from deskscribe.cli.config import ledger, open_datadir
    from deskscribe.cli.enrolment import open_client
    from deskscribe.errors import UserError
    from deskscribe.outbox import Outbox
    from deskscribe.upload import Uploader

    cfg, dd = open_datadir(data_dir)
    if ledger(cfg.data_dir).state().withdrawn:
        raise UserError("you withdrew consent, so nothing is uploaded; `deskscribe consent accept`"
                        " takes part again")
    box = Outbox(root=cfg.data_dir)
    infos = {i.session_id: i for i in dd.sessions()}
    _auto_approve(box, infos, cfg.data_dir)
    approved = box.approved()
    wanted = list(sessions) if sessions else box.pending()
    done = approved - set(box.pending())
    for sid in wanted:
        if sid not in infos:
            raise UserError(f"no session {sid} in {dd.root}")
        if sid not in approved:
            raise UserError(f"session {sid} is not approved; review it with `deskscribe review show {sid}`"
                            f" and approve it with `deskscribe review approve {sid}`")
    if not wanted:
        typer.echo("nothing to upload: no approved session is waiting")
        return
    with open_client(cfg.data_dir) as client:
        if client.report_consent(ledger(cfg.data_dir).for_collector()):
            raise UserError("the collector records that you withdrew consent; nothing is uploaded")
        _deposit_key(client, dd, cfg.data_dir)
        up = Uploader(client=client, max_bytes_per_s=max_kib_s * 1024 if max_kib_s else None)
        for sid in wanted:
            if sid in done:
                typer.echo(f"session {sid} is already on the collector")
                continue
            sent = up.upload(sid, box.upload_copy(sid, write=dd.write_upload_copy))
            box.mark_uploaded(sid)
            typer.echo(f"uploaded session {sid} ({count(sent, 'new chunk')})")


def _auto_approve(box: Outbox, infos: dict[str, SessionInfo], root: Path) -> None:
    """The policy may approve what the contributor left unreviewed for N hours (the notice says so)."""
    from deskscribe.cli.collector_policy import cached
    from deskscribe.errors import PolicyError
    from deskscribe.policy import parse_policy

    answer = cached(root)
    try:
        hours = parse_policy(answer["policy"]).auto_approve_hours if answer else None
    except PolicyError:
        hours = None
    if hours is None:
        return
    sealed_at = {i.session_id: (i.started_wall_ns or 0) / 1e9 + i.duration_s for i in infos.values()
                 if i.sealed and not i.error}
    for sid in box.auto_approve(sealed_at, hours):
        typer.echo(f"approved {sid} automatically: not reviewed within {hours:g} hours (see the notice)")


def _deposit_key(client: CollectorClient, dd: DataDir, root: Path) -> None:
    """Once per enrolment: the data key, wrapped for the collector's public key."""
    import base64

    from deskscribe.cli.enrolment import credential, save_credential
    from deskscribe.envelope import PUBLIC_BYTES, wrap_key

    cred = credential(root)
    if cred is None or cred.get("key_deposited"):
        return
    recipient = base64.b64decode(cred["collector_key"])
    if len(recipient) != PUBLIC_BYTES:  # enrolled before the collector's hybrid key: ask again
        recipient = client.collector_key()
    wrapped = wrap_key(dd.data_key(), recipient=recipient, contributor=cred["contributor_id"])
    client.deposit_key(wrapped)
    save_credential(root, {**cred, "key_deposited": True})


me_app = typer.Typer(help="Your rights: what the collector holds about you, and erasure.",
                     no_args_is_help=True)


@me_app.command("export")
def me_export(out: Annotated[Path, typer.Option("--out", help="Directory for everything held about you.")],
              data_dir: DataDirOpt = None) -> None:
    """Everything the collector holds about you: each session as held (encrypted) and decoded
    with your key (JSON events and PNG screenshots), your consent records and who accessed
    your data."""
    from deskscribe.cli.config import load_config, open_datadir
    from deskscribe.cli.enrolment import open_client
    from deskscribe.errors import DataKeyError, UserError

    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty; choose a new directory")
    (out / "sessions").mkdir(parents=True, exist_ok=True)
    with open_client(load_config(data_dir).data_dir) as client:
        held = client.my_sessions()
        for sess in held["sessions"]:
            with open(out / "sessions" / f"{sess['id']}.db", "wb") as fh:
                for i in client.chunks_held(sess["id"]):
                    fh.write(client.read_chunk(sess["id"], i))
        manifest = {**held, **client.my_consent(), "accesses": client.my_audit()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    _, dd = open_datadir(data_dir)
    try:
        key = dd.data_key()
    except DataKeyError:
        typer.echo(f"exported {count(len(held['sessions']), 'session')} to {out}; no data key on this device,"
                   " so they stay encrypted")
        return
    for sess in held["sessions"]:
        if sess["complete"]:
            _decode(out / "sessions" / f"{sess['id']}.db", sess["id"], key, out / "sessions" / sess["id"])
    typer.echo(f"exported {count(len(held['sessions']), 'session')} to {out}: events as JSON, screenshots"
               " as PNG, consent records and accesses in manifest.json")


def _decode(path: Path, session_id: str, key: bytes, dest: Path) -> None:
    """One session file as meta.json, events.jsonl and frames/*.png."""
    import shutil
    import tempfile

    from deskscribe.datadir import DataDir
    from deskscribe.frame_codec import FrameSource
    from deskscribe.keystore import MemoryKeyBackend

    with tempfile.TemporaryDirectory() as tmp:
        dd = DataDir(root=Path(tmp), key_backend=MemoryKeyBackend(key=key))
        dd.sessions_dir.mkdir()
        shutil.copyfile(path, dd.path_of(session_id))
        with dd.open(session_id) as reader:
            (dest / "frames").mkdir(parents=True)
            (dest / "meta.json").write_text(json.dumps(reader.meta.to_json(), indent=2))
            with open(dest / "events.jsonl", "w") as fh:
                for event_id, event in reader.iter_events():
                    fh.write(json.dumps(event.to_json(event_id), ensure_ascii=False) + "\n")
            frames = FrameSource(reader=reader)
            for frame_id in reader.frame_ids():
                frames.image(frame_id).save(dest / "frames" / f"frame-{frame_id:06d}.png")


@me_app.command("delete")
def me_delete(yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
              data_dir: DataDirOpt = None) -> None:
    """Erase yourself: the collector's copies, then your sessions and your key on this device."""
    from deskscribe.cli.config import key_backend, open_datadir
    from deskscribe.cli.enrolment import CREDENTIAL, open_client
    from deskscribe.control import request, socket_path
    from deskscribe.errors import ControlError, UserError
    from deskscribe.outbox import Outbox

    cfg, dd = open_datadir(data_dir)
    try:
        request(socket_path(dd.root), {"cmd": "status"}, timeout=2.0)
        raise UserError("a recorder is running; stop it first")
    except ControlError:
        pass  # nothing is recording
    if not yes and not typer.confirm("Erase everything recorded about you, here and on the collector?"):
        raise typer.Exit(1)
    enrolled = (cfg.data_dir / CREDENTIAL).exists()
    if enrolled:
        with open_client(cfg.data_dir) as client:
            erased = client.erase_me()
        typer.echo(f"the collector erased {count(erased, 'session')}")
    for info in dd.sessions():
        dd.delete(info.session_id)
    key_backend(cfg, dd.contributor_id).delete()  # any copy anywhere is unreadable now
    (cfg.data_dir / CREDENTIAL).unlink(missing_ok=True)
    # What still names you or your sessions: the outbox (ids, approvals, upload copies) and the
    # pseudonym itself; recording again starts under a new one.
    Outbox(root=cfg.data_dir).remove()
    (cfg.data_dir / PSEUDONYM).unlink(missing_ok=True)
    typer.echo("your sessions, your data key and your pseudonym on this device are deleted")


def report_consent(root: Path) -> str:
    """Send the consent ledger to the collector, if enrolled; what to tell the contributor."""
    from deskscribe.cli.config import ledger
    from deskscribe.cli.enrolment import credential, open_client
    from deskscribe.errors import CollectorClientError

    if credential(root) is None:
        return ""
    try:
        with open_client(root, sleep=lambda _: None) as client:  # no waiting: the next upload tells it
            client.report_consent(ledger(root).for_collector())
    except CollectorClientError:
        return "; the collector could not be told now, the next upload tells it"
    return "; the collector was told"
