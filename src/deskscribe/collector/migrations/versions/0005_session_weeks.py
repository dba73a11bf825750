"""Each uploaded session's ISO week, as fleet statistics learn it (opened once, not per request).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_weeks",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("week", sa.String(10), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("session_weeks")
