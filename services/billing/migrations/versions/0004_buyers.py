"""buyers: the collectivités' buyer accounts (Chorus Pro invoicing establishment)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 17:50:00.000000
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
        "buyer_accounts",
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("collectivite_code", sa.String(length=9), nullable=False),
        sa.Column("collectivite_kind", sa.String(length=10), nullable=False),
        sa.Column("collectivite_name", sa.String(length=200), nullable=False),
        sa.Column("siret", sa.String(length=14), nullable=False),
        sa.Column("service_code", sa.String(length=100), nullable=True),
        sa.Column("service_code_required", sa.Boolean(), nullable=False),
        sa.Column("engagement_required", sa.Boolean(), nullable=False),
        sa.Column("service_or_engagement_required", sa.Boolean(), nullable=False),
        sa.Column("services", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("departement", "collectivite_code"),
    )
    op.create_index("buyer_accounts_siret_idx", "buyer_accounts", ["siret"])


def downgrade() -> None:
    op.drop_index("buyer_accounts_siret_idx", table_name="buyer_accounts")
    op.drop_table("buyer_accounts")
