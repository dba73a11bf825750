"""Tables of console sign-in: one-time login links and the browser sessions they open.

Both hold digests of their secrets only, like device credentials: a copy of the database
opens no console. They share the collector's metadata, so Alembic sees one schema.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from deskscribe.collector.schema import metadata

login_links = Table(
    "login_links", metadata,
    Column("digest", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("device_id", String(32)),  # a contributor signs in as one of their enrolled devices
    Column("created_ns", BigInteger, nullable=False),
    Column("expires_ns", BigInteger, nullable=False),
    Column("used_ns", BigInteger),
)

console_sessions = Table(
    "console_sessions", metadata,
    Column("digest", String(64), primary_key=True),
    Column("actor", String(64), nullable=False),  # the audit log's name for whoever signed in
    Column("role", String(16), nullable=False),
    Column("contributor_id", String(32), nullable=False),
    Column("region", String(32)),
    Column("device_id", String(32)),
    Column("created_ns", BigInteger, nullable=False),
    Column("expires_ns", BigInteger, nullable=False),
    Column("revoked_ns", BigInteger),
)
