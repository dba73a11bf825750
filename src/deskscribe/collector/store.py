"""The collector's storage contract: SQL (SQLite or PostgreSQL, via SQLAlchemy) plus a blob
store (a directory or an S3 bucket). Every rule that keeps one contributor's data apart from
another's lives here, so both backends enforce them identically and the HTTP layer only
translates.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.exc import IntegrityError

from deskscribe.collector import audit_chain
from deskscribe.collector.blobs import BlobStore, LocalBlobs
from deskscribe.collector.codes import new_code, normal_code
from deskscribe.collector.models import AuditEntry, HeldSession
from deskscribe.collector.roles import Device, check_role, require
from deskscribe.collector.schema import (
    audit,
    chunks,
    consent,
    dataset_members,
    datasets,
    devices,
    enrol_codes,
    sessions,
    wrapped_keys,
)
from deskscribe.envelope import CollectorKeys, is_current, public_of, unwrap_key, wrap_key
from deskscribe.errors import Conflict, DataKeyError, Forbidden, Invalid, NotFound, Unauthorised

MAX_CHUNK = 8 * 1024 * 1024
MIN_PEOPLE = 10  # the fewest people any figure or dataset across people may describe


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def connect(url: str) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql://...`` (driven by psycopg 3)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(conn: Any, _record: Any) -> None:
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class CollectorStore:
    """Construction touches neither the database nor the disk; :meth:`open` (or
    :meth:`migrate`) brings both up to date before the first request is served."""

    def __init__(self, *, engine: Engine, blobs: BlobStore | Path, private_key: bytes,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.engine = engine
        self.blobs: BlobStore = LocalBlobs(root=blobs) if isinstance(blobs, Path) else blobs
        CollectorKeys.from_bytes(private_key)  # a bare X25519 key is refused: it has no hybrid pair
        self._private = private_key
        self.public_key = public_of(private_key)
        self.wall_ns = wall_ns

    @classmethod
    def open(cls, *, engine: Engine, blobs: BlobStore | Path, private_key: bytes,
             wall_ns: Callable[[], int] = time.time_ns) -> CollectorStore:
        """A store whose database has the newest schema and whose blob directory exists."""
        store = cls(engine=engine, blobs=blobs, private_key=private_key, wall_ns=wall_ns)
        store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the database to the newest schema with Alembic (a new database starts empty)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # collectors starting together migrate one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(8470)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        self.blobs.ensure()
        self.rewrap_keys()

    @property
    def scratch(self) -> Path | None:
        """Where a build puts session files it assembles (still encrypted): beside local blobs,
        so nothing crosses file systems; the system's temporary directory for a bucket."""
        if isinstance(self.blobs, LocalBlobs):
            path = self.blobs.root / ".work"  # contributor ids are hex, never this
            path.mkdir(parents=True, exist_ok=True)
            return path
        return None

    def rewrap_keys(self) -> int:
        """Every key on file wrapped before HPKE (contributor data keys, dataset keys) wrapped
        again with HPKE, in one transaction; a row changed meanwhile is left to the next run.
        Returns how many were re-wrapped: 0 on every run after the first."""
        with self.engine.begin() as c:
            found = [(wrapped_keys, wrapped_keys.c.contributor_id, wrapped_keys.c.wrapped, r[0], r[0], r[1])
                     for r in c.execute(select(wrapped_keys.c.contributor_id, wrapped_keys.c.wrapped))]
            keyed = select(datasets.c.id, datasets.c.key).where(datasets.c.key.is_not(None))
            found += [(datasets, datasets.c.id, datasets.c.key, r[0], f"dataset/{r[0]}", r[1])
                      for r in c.execute(keyed)]
            done = 0
            for table, id_col, col, row_id, binding, old in found:
                if is_current(old):
                    continue
                try:
                    key = unwrap_key(old, private=self._private, contributor=binding)
                except DataKeyError:
                    continue  # unreadable before too (a damaged row): reading it still says so
                new = wrap_key(key, recipient=self.public_key, contributor=binding)
                done += c.execute(table.update().where((id_col == row_id) & (col == old))
                                  .values({col.name: new})).rowcount
            if done:
                self.audit(c, "collector", "key_rewrap", "keys", f"{done} keys wrapped again with HPKE")
        return done

    # -- enrolment -------------------------------------------------------------------------

    def create_enrol_code(self, role: str = "contributor", *, actor: str = "steward",
                          region: str | None = None) -> str:
        """A one-time code; ``region`` places the device under that region's policy rules."""
        check_role(role)
        if region is not None and not (0 < len(region) <= 32 and region.replace("-", "").isalnum()):
            raise Invalid("a region is 1-32 letters, digits or '-', e.g. DE or eu-west")
        code = new_code()
        with self.engine.begin() as c:
            c.execute(enrol_codes.insert().values(code_hash=_digest(code), role=role, region=region,
                                                  created_ns=self.wall_ns()))
            self.audit(c, actor, "enrol_code", role)
        return code

    def enrol(self, code: str) -> tuple[Device, str]:
        """Exchange a one-time code for a device credential; the token is shown once."""
        with self.engine.begin() as c:
            row = c.execute(select(enrol_codes).where(enrol_codes.c.code_hash == _digest(normal_code(code)))
                            .with_for_update()).first()
            if row is None or row.used_ns is not None:
                raise Forbidden("enrolment code unknown or already used")
            c.execute(enrol_codes.update().where(enrol_codes.c.code_hash == row.code_hash)
                      .values(used_ns=self.wall_ns()))
            device = Device(secrets.token_hex(8), secrets.token_hex(8), row.role, row.region)
            token = secrets.token_urlsafe(32)
            c.execute(devices.insert().values(id=device.id, contributor_id=device.contributor_id,
                                              role=device.role, region=device.region,
                                              token_hash=_digest(token),
                                              created_ns=self.wall_ns()))
            self.audit(c, device.id, "enrol", device.role)
        return device, token

    def authenticate(self, token: str) -> Device:
        with self.engine.connect() as c:
            row = c.execute(select(devices).where(devices.c.token_hash == _digest(token))).first()
        if row is None or row.revoked_ns is not None:
            raise Unauthorised("unknown or revoked device credential")
        return Device(row.id, row.contributor_id, row.role, row.region)

    def revoke(self, device_id: str, *, actor: str = "steward") -> None:
        with self.engine.begin() as c:
            done = c.execute(devices.update().where(devices.c.id == device_id)
                             .values(revoked_ns=self.wall_ns())).rowcount
            if not done:
                raise NotFound(f"no device {device_id}")
            self.audit(c, actor, "revoke", device_id)

    # -- uploads ---------------------------------------------------------------------------

    def put_chunk(self, device: Device, session_id: str, idx: int, data: bytes, sha256: str) -> bool:
        """Store one chunk; False when this exact chunk was stored before (a retry)."""
        require(device, "contributor")
        _check_session_id(session_id)
        if idx < 0 or len(data) > MAX_CHUNK or not data:
            raise Invalid(f"a chunk needs an index >= 0 and 1..{MAX_CHUNK} bytes")
        if hashlib.sha256(data).hexdigest() != sha256.lower():
            raise Invalid("chunk does not match its SHA-256; nothing was stored")
        for attempt in range(2):
            try:
                return self._put_chunk(device, session_id, idx, data, sha256.lower())
            except IntegrityError:
                if attempt:  # the row that beat this one is committed now: the second try sees it
                    raise
        raise AssertionError("unreachable")

    def _put_chunk(self, device: Device, session_id: str, idx: int, data: bytes, sha256: str) -> bool:
        """The row goes in before the blob: a copy of the same chunk racing this one (a retry at
        another collector) waits on the row's key, and then finds it stored or different."""
        with self.engine.begin() as c:
            self._consenting(c, device)
            owner = self._own_session(c, device, session_id, create=True)
            if owner.completed_ns is not None:
                raise Conflict(f"session {session_id} is complete; it cannot change")
            old = c.execute(select(chunks.c.sha256).where(
                (chunks.c.session_id == session_id) & (chunks.c.idx == idx))).first()
            if old is not None:
                if old.sha256 != sha256:
                    raise Conflict(f"chunk {idx} of {session_id} was stored with other content")
                return False
            c.execute(chunks.insert().values(session_id=session_id, idx=idx, sha256=sha256, size=len(data)))
            self.blobs.put(f"{device.contributor_id}/{session_id}/{idx:06d}", data)
            c.execute(sessions.update().where(sessions.c.id == session_id)
                      .values(bytes=sessions.c.bytes + len(data)))
        return True

    def complete(self, device: Device, session_id: str, count: int) -> None:
        require(device, "contributor")
        with self.engine.begin() as c:
            self._consenting(c, device)
            row = self._own_session(c, device, session_id, create=False)
            if row.completed_ns is not None:
                if row.chunks != count:
                    raise Conflict(f"session {session_id} was completed with {row.chunks} chunks")
                return
            have = [r.idx for r in c.execute(select(chunks.c.idx).where(chunks.c.session_id == session_id)
                                             .order_by(chunks.c.idx))]
            if have != list(range(count)):
                raise Conflict(f"session {session_id} has chunks {len(have)} of {count}; upload the rest")
            c.execute(sessions.update().where(sessions.c.id == session_id)
                      .values(chunks=count, completed_ns=self.wall_ns()))
            self.audit(c, device.id, "upload", session_id)

    def uploaded(self, device: Device, session_id: str) -> list[int]:
        """Chunk indexes already stored: where a resumed upload continues."""
        require(device, "contributor")
        with self.engine.connect() as c:
            self._own_session(c, device, session_id, create=False)
            return [r.idx for r in c.execute(select(chunks.c.idx).where(chunks.c.session_id == session_id)
                                             .order_by(chunks.c.idx))]

    def my_sessions(self, device: Device) -> list[HeldSession]:
        require(device, "contributor")
        with self.engine.connect() as c:
            rows = c.execute(select(sessions).where(sessions.c.contributor_id == device.contributor_id)
                             .order_by(sessions.c.id)).all()
        return [HeldSession(id=r.id, bytes=r.bytes, chunks=r.chunks, complete=r.completed_ns is not None)
                for r in rows]

    def read_chunk(self, device: Device, session_id: str, idx: int) -> bytes:
        """One chunk of the device's own contributor's session (for `me export`); audited."""
        require(device, "contributor")
        with self.engine.begin() as c:
            self._own_session(c, device, session_id, create=False)
            if c.execute(select(chunks.c.idx).where((chunks.c.session_id == session_id)
                                                    & (chunks.c.idx == idx))).first() is None:
                raise NotFound(f"session {session_id} has no chunk {idx}")
            self.audit(c, device.id, "export", f"{session_id}/{idx}")
        return self.blobs.get(f"{device.contributor_id}/{session_id}/{idx:06d}")

    # -- envelope keys and objection ------------------------------------------------------

    def deposit_key(self, device: Device, wrapped: bytes) -> None:
        """Keep the contributor's data key wrapped for this collector; checked by unwrapping."""
        require(device, "contributor")
        try:
            key = unwrap_key(wrapped, private=self._private, contributor=device.contributor_id)
        except DataKeyError as exc:
            raise Invalid(f"{exc}; fetch the collector key from /v1/collector-key and wrap again") from None
        if not is_current(wrapped):  # a device from before HPKE: kept only as HPKE
            wrapped = wrap_key(key, recipient=self.public_key, contributor=device.contributor_id)
        with self.engine.begin() as c:
            c.execute(wrapped_keys.delete().where(wrapped_keys.c.contributor_id == device.contributor_id))
            c.execute(wrapped_keys.insert().values(contributor_id=device.contributor_id, wrapped=wrapped,
                                                   created_ns=self.wall_ns()))
            self.audit(c, device.id, "key_deposit", device.contributor_id)

    def keyed_contributors(self) -> set[str]:
        with self.engine.connect() as c:
            return {r.contributor_id for r in c.execute(select(wrapped_keys.c.contributor_id))}

    def wrap_for_collector(self, key: bytes, binding: str) -> bytes:
        return wrap_key(key, recipient=self.public_key, contributor=binding)

    def open_envelope(self, wrapped: bytes | None, binding: str) -> bytes:
        if wrapped is None:
            raise Conflict(f"the key of {binding} was destroyed")
        return unwrap_key(wrapped, private=self._private, contributor=binding)

    def data_key(self, contributor_id: str) -> bytes | None:
        """The contributor's data key, unwrapped in memory for a build; None once erased."""
        with self.engine.connect() as c:
            row = c.execute(select(wrapped_keys.c.wrapped)
                            .where(wrapped_keys.c.contributor_id == contributor_id)).first()
        return None if row is None else unwrap_key(row.wrapped, private=self._private,
                                                   contributor=contributor_id)

    def objects(self, c: Connection, contributor_id: str) -> bool:
        last = c.execute(select(consent.c.action).where(consent.c.contributor_id == contributor_id)
                         .order_by(consent.c.at_ns.desc()).limit(1)).first()
        return last is not None and last.action == "withdraw"

    def _consenting(self, c: Connection, device: Device) -> None:
        if self.objects(c, device.contributor_id):
            raise Forbidden("this contributor withdrew consent; nothing more is accepted until they"
                            " acknowledge the notice again")

    def create_code_for(self, device: Device, role: str, region: str | None = None) -> str:
        """Enrolment over HTTP: stewards only."""
        require(device, "steward")
        return self.create_enrol_code(role, actor=device.id, region=region)

    def audit_log(self, device: Device) -> list[AuditEntry]:
        """The whole chain, for auditors (read-only); the reading itself is logged."""
        require(device, "auditor")
        with self.engine.begin() as c:
            self.audit(c, device.id, "audit_read", "audit")
            return [audit_chain.entry(r) for r in c.execute(select(audit).order_by(audit.c.seq))]

    def my_audit(self, device: Device) -> list[AuditEntry]:
        """Who read, exported or changed anything of this contributor's, including datasets
        built from their sessions and every read of those."""
        require(device, "contributor")
        with self.engine.connect() as c:
            mine = {r.id for r in c.execute(select(sessions.c.id)
                                            .where(sessions.c.contributor_id == device.contributor_id))}
            mine |= {r.dataset_id for r in c.execute(select(dataset_members.c.dataset_id).where(
                dataset_members.c.contributor_id == device.contributor_id))}
            devs = {r.id for r in c.execute(select(devices.c.id)
                                            .where(devices.c.contributor_id == device.contributor_id))}
            rows = c.execute(select(audit).order_by(audit.c.seq)).all()
        return [audit_chain.entry(r) for r in rows if r.actor in devs or r.subject.split("/")[0] in mine]

    def audit_verify(self) -> int | None:
        return audit_chain.verify(self.engine)

    def audit(self, c: Connection, actor: str, action: str, subject: str, detail: str = "") -> None:
        audit_chain.append(c, at_ns=self.wall_ns(), actor=actor, action=action, subject=subject,
                           detail=detail)

    # -- sessions on disk ------------------------------------------------------------------

    def _own_session(self, c: Connection, device: Device, session_id: str, *, create: bool) -> Any:
        row = c.execute(select(sessions).where(sessions.c.id == session_id)).first()
        if row is None and create:
            c.execute(sessions.insert().values(id=session_id, contributor_id=device.contributor_id, bytes=0,
                                               created_ns=self.wall_ns()))
            row = c.execute(select(sessions).where(sessions.c.id == session_id)).first()
        if row is None:
            raise NotFound(f"no session {session_id}")
        if row.contributor_id != device.contributor_id:
            raise Forbidden("that session belongs to another contributor")
        return row


def _check_session_id(session_id: str) -> None:
    if not (0 < len(session_id) <= 64 and all(ch.isalnum() or ch in "-_" for ch in session_id)):
        raise Invalid("a session id is 1-64 letters, digits, '-' or '_'")
