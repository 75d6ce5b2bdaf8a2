"""satisfaction surveys

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("requester_code", sa.String(length=9), nullable=False),
        sa.Column("themes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("delay", sa.Integer(), nullable=True),
        sa.Column("usefulness", sa.Integer(), nullable=True),
        sa.Column("would_recommend", sa.Boolean(), nullable=True),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id"),
    )
    op.create_index(
        "surveys_due_idx",
        "surveys",
        ["due_at"],
        postgresql_where=sa.text("asked_at IS NULL"),
    )
    op.create_index("surveys_departement_idx", "surveys", ["departement", "actor_id"])


def downgrade() -> None:
    op.drop_index("surveys_departement_idx", table_name="surveys")
    op.drop_index(
        "surveys_due_idx", table_name="surveys", postgresql_where=sa.text("asked_at IS NULL")
    )
    op.drop_table("surveys")
