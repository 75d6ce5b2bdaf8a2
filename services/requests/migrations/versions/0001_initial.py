"""initial schema: demandes, outbox, processed events

Revision ID: 0001
Revises:
Create Date: 2026-11-25 18:14:44.068114
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.messaging_migration import (
    create_messaging_tables_v1,
    drop_messaging_tables_v1,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "demandes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("requester_kind", sa.String(length=10), nullable=False),
        sa.Column("requester_code", sa.String(length=9), nullable=False),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("requester_population", sa.Integer(), nullable=False),
        sa.Column("contact", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("themes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("estimated_budget", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("wished_start", sa.Date(), nullable=True),
        sa.Column("wished_end", sa.Date(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_detail", sa.Text(), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "demandes_departement_status_idx",
        "demandes",
        ["departement", "status", "submitted_at"],
        unique=False,
    )
    op.create_index(
        "demandes_requester_idx", "demandes", ["requester_code", "submitted_at"], unique=False
    )
    op.create_index(
        "demandes_themes_idx", "demandes", ["themes"], unique=False, postgresql_using="gin"
    )
    create_messaging_tables_v1()


def downgrade() -> None:
    drop_messaging_tables_v1()
    op.drop_index("demandes_themes_idx", table_name="demandes", postgresql_using="gin")
    op.drop_index("demandes_requester_idx", table_name="demandes")
    op.drop_index("demandes_departement_status_idx", table_name="demandes")
    op.drop_table("demandes")
