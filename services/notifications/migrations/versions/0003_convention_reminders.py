"""convention reminders: the conventions sent for signature, reminded of before expiry

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
        "convention_reminders",
        sa.Column("convention_id", sa.Uuid(), nullable=False),
        sa.Column("demande_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_incl_tax", sa.String(length=20), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("convention_id"),
    )
    op.create_index(
        "convention_reminders_due_idx",
        "convention_reminders",
        ["remind_at"],
        postgresql_where=sa.text("reminded_at IS NULL AND closed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("convention_reminders_due_idx", table_name="convention_reminders")
    op.drop_table("convention_reminders")
