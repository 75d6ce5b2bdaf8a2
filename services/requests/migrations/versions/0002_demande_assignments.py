"""assignments followed from matching

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:31:48.205231
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "demande_assignments",
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("needs", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id"),
    )
    op.create_index(
        "demande_assignments_request_idx", "demande_assignments", ["request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("demande_assignments_request_idx", table_name="demande_assignments")
    op.drop_table("demande_assignments")
