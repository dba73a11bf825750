"""Fleet statistics (released weeks and their noisy counts); dataset builds as leased jobs.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_weeks",
        sa.Column("week", sa.String(10), primary_key=True),
        sa.Column("released_ns", sa.BigInteger, nullable=False),
        sa.Column("epsilon", sa.Float, nullable=False),
        sa.Column("max_actions_per_person", sa.Integer, nullable=False),
    )
    op.create_table(
        "fleet_counts",
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("app", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actions", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("week", "app", "action"),
    )
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(64)))
        batch.add_column(sa.Column("pending", sa.String(64)))
        batch.add_column(sa.Column("lease_owner", sa.String(64)))
        batch.add_column(sa.Column("lease_until_ns", sa.BigInteger))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_datasets_pending", "datasets", ["pending"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_datasets_pending", "datasets")
    with op.batch_alter_table("datasets") as batch:
        for column in ("attempts", "lease_until_ns", "lease_owner", "pending", "requested_by"):
            batch.drop_column(column)
    op.drop_table("fleet_counts")
    op.drop_table("fleet_weeks")
