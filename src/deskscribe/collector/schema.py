"""Tables of the collector database, one definition for SQLite and PostgreSQL.

Nothing here describes a person's activity: devices, enrolment codes, uploaded session
chunks (encrypted as the recorder sealed them), wrapped data keys, consent records, policies,
built datasets and the audit log.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
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
    Column("region", String(32)),
)

devices = Table(
    "devices", metadata,
    Column("id", String(32), primary_key=True),
    Column("contributor_id", String(32), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_ns", BigInteger, nullable=False),
    Column("revoked_ns", BigInteger),
    Column("region", String(32)),
)

sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("contributor_id", String(32), nullable=False, index=True),
    Column("chunks", Integer),  # set when the upload is complete
    Column("bytes", BigInteger, nullable=False, default=0),
    Column("completed_ns", BigInteger),
    Column("created_ns", BigInteger),  # when the first chunk arrived: incomplete uploads expire
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

# The contributor's data key, wrapped for the collector's X25519 key (envelope encryption):
# deleting this row (erasure) leaves every blob of theirs undecryptable.
wrapped_keys = Table(
    "wrapped_keys", metadata,
    Column("contributor_id", String(32), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
)

# The contributor's consent ledger as their recorder reports it (acknowledgements, objections).
consent = Table(
    "consent", metadata,
    Column("contributor_id", String(32), nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),
    Column("notice_version", String(64)),
    PrimaryKeyConstraint("contributor_id", "at_ns", "action"),
)

policies = Table(
    "policies", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("version", String(64), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("published_ns", BigInteger, nullable=False),
)

# Regions whose rules need a recorded DPIA / works agreement before anyone there is recorded.
region_approvals = Table(
    "region_approvals", metadata,
    Column("region", String(32), primary_key=True),
    Column("dpia_ref", String(200)),
    Column("works_agreement_ref", String(200)),
    Column("recorded_ns", BigInteger, nullable=False),
)

datasets = Table(
    "datasets", metadata,
    Column("id", String(32), primary_key=True),
    Column("fmt", String(16), nullable=False),
    Column("precision_ms", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # ready | stale | expired
    Column("created_ns", BigInteger, nullable=False),
    Column("contributors", Integer, nullable=False),
    Column("sessions", Integer, nullable=False),
    Column("episodes", Integer, nullable=False),
    Column("steps", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("rebuild_of", String(32)),
    Column("stale_reason", String(200)),
    Column("key", LargeBinary),  # the dataset's file key wrapped for the collector; erased with it
    # A dataset in state ``building`` is a job (collector/build_jobs.py): who asked for it, the
    # request it answers while building (one build of the same request at a time), and the lease.
    Column("requested_by", String(64)),
    Column("pending", String(64)),
    Column("lease_owner", String(64)),
    Column("lease_until_ns", BigInteger),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("ix_datasets_pending", "pending", unique=True),
)

# Which contributors a dataset was built from: what erasure marks for rebuild.
dataset_members = Table(
    "dataset_members", metadata,
    Column("dataset_id", String(32), nullable=False),
    Column("contributor_id", String(32), nullable=False, index=True),
    PrimaryKeyConstraint("dataset_id", "contributor_id"),
)

# Fleet statistics, released once per ISO week after it ended: the noisy counts stewards see
# (only cells with enough people), and which weeks are released, so none is drawn twice.
fleet_weeks = Table(
    "fleet_weeks", metadata,
    Column("week", String(10), primary_key=True),
    Column("released_ns", BigInteger, nullable=False),
    Column("epsilon", Float, nullable=False),
    Column("max_actions_per_person", Integer, nullable=False),
)
fleet_counts = Table(
    "fleet_counts", metadata,
    Column("week", String(10), nullable=False),
    Column("app", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actions", Integer, nullable=False),
    PrimaryKeyConstraint("week", "app", "action"),
)

# Each uploaded session's ISO week, learnt the first time fleet statistics open it, so later
# requests skip sessions of weeks already released or not yet ended without opening them.
# Erasure and retention delete a session's row with the session.
session_weeks = Table(
    "session_weeks", metadata,
    Column("session_id", String(64), primary_key=True),
    Column("week", String(10), nullable=False),
)
