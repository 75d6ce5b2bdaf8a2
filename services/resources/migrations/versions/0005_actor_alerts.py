"""actor alerts raised, one per actor and quarter

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "actor_alerts",
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("departement", "actor_id", "quarter"),
    )


def downgrade() -> None:
    op.drop_table("actor_alerts")
