"""Wrapped data keys, consent records, published policies, region approvals, datasets.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrol_codes", sa.Column("region", sa.String(32)))
    op.add_column("devices", sa.Column("region", sa.String(32)))
    op.add_column("sessions", sa.Column("created_ns", sa.BigInteger))
    op.create_table(
        "wrapped_keys",
        sa.Column("contributor_id", sa.String(32), primary_key=True),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "consent",
        sa.Column("contributor_id", sa.String(32), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("notice_version", sa.String(64)),
        sa.PrimaryKeyConstraint("contributor_id", "at_ns", "action"),
    )
    op.create_table(
        "policies",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("published_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "region_approvals",
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("dpia_ref", sa.String(200)),
        sa.Column("works_agreement_ref", sa.String(200)),
        sa.Column("recorded_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("fmt", sa.String(16), nullable=False),
        sa.Column("precision_ms", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("contributors", sa.Integer, nullable=False),
        sa.Column("sessions", sa.Integer, nullable=False),
        sa.Column("episodes", sa.Integer, nullable=False),
        sa.Column("steps", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("rebuild_of", sa.String(32)),
        sa.Column("stale_reason", sa.String(200)),
        sa.Column("key", sa.LargeBinary),
    )
    op.create_table(
        "dataset_members",
        sa.Column("dataset_id", sa.String(32), nullable=False),
        sa.Column("contributor_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "contributor_id"),
    )
    op.create_index("ix_dataset_members_contributor_id", "dataset_members", ["contributor_id"])


def downgrade() -> None:
    for table in ("dataset_members", "datasets", "region_approvals", "policies", "consent", "wrapped_keys"):
        op.drop_table(table)
    op.drop_column("sessions", "created_ns")
    op.drop_column("devices", "region")
    op.drop_column("enrol_codes", "region")
