"""Tables of the collector database, one definition for SQLite and PostgreSQL.

Nothing here describes a person's activity: devices, enrolment codes, uploaded session
chunks (encrypted as the recorder sealed them) and the audit log.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

enrol_codes = Table(
    "enrol_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("used_ns", BigInteger),
)

devices = Table(
    "devices", metadata,
    Column("id", String(32), primary_key=True),
    Column("contributor_id", String(32), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_ns", BigInteger, nullable=False),
    Column("revoked_ns", BigInteger),
)

sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("contributor_id", String(32), nullable=False, index=True),
    Column("chunks", Integer),  # set when the upload is complete
    Column("bytes", BigInteger, nullable=False, default=0),
    Column("completed_ns", BigInteger),
)

chunks = Table(
    "chunks", metadata,
    Column("session_id", String(64), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    PrimaryKeyConstraint("session_id", "idx"),
)

audit = Table(
    "audit", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at_ns", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
