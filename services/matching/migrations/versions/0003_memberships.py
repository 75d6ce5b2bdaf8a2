"""memberships projection, submission date and reason of routed demandes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memberships",
        sa.Column("adhesion_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("collectivite_code", sa.String(length=9), nullable=False),
        sa.Column("collectivite_kind", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("adhesion_id"),
    )
    op.create_index(
        "memberships_collectivite_idx", "memberships", ["collectivite_code", "year"], unique=False
    )
    op.add_column(
        "routed_demandes", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Demandes routed before: their reception is the closest date known.
    op.execute("UPDATE routed_demandes SET submitted_at = received_at")
    op.alter_column("routed_demandes", "submitted_at", nullable=False)
    op.add_column(
        "routed_demandes", sa.Column("unmatched_reason", sa.String(length=30), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("routed_demandes", "unmatched_reason")
    op.drop_column("routed_demandes", "submitted_at")
    op.drop_index("memberships_collectivite_idx", table_name="memberships")
    op.drop_table("memberships")
