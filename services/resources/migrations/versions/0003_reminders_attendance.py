"""trainings: reminders sent, attendance

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "registrations", sa.Column("reminded_7d_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "registrations", sa.Column("reminded_1d_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "registrations",
        sa.Column("present", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "registrations", sa.Column("attendance_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("registrations", "attendance_at")
    op.drop_column("registrations", "present")
    op.drop_column("registrations", "reminded_1d_at")
    op.drop_column("registrations", "reminded_7d_at")
