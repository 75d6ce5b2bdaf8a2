"""conventions: the conventions and their numbering, unbilled completions, invoices citing
their convention

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 14:40:00.000000
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
    op.create_table(
        "convention_counters",
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("departement", "year"),
    )
    op.create_table(
        "conventions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("base_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("demande_id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("collectivite_code", sa.String(length=9), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_incl_tax", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("demande_id", "version", name="conventions_demande_version_key"),
        sa.UniqueConstraint(
            "departement", "year", "sequence", "version", name="conventions_sequence_key"
        ),
    )
    op.create_index("conventions_assignment_idx", "conventions", ["assignment_id"])
    op.create_index("conventions_departement_status_idx", "conventions", ["departement", "status"])
    op.create_index(
        "conventions_unsigned_idx",
        "conventions",
        ["valid_until"],
        postgresql_where="status IN ('brouillon', 'envoyee')",
    )
    op.create_table(
        "unbilled_completions",
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("demande_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("collectivite_code", sa.String(length=9), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id"),
    )
    op.create_index(
        "unbilled_completions_departement_idx",
        "unbilled_completions",
        ["departement", "completed_at"],
    )
    op.add_column("invoices", sa.Column("convention_number", sa.String(length=40), nullable=True))
    op.add_column("invoices", sa.Column("engagement_number", sa.String(length=50), nullable=True))
    op.add_column("invoices", sa.Column("service_code", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("invoices", "service_code")
    op.drop_column("invoices", "engagement_number")
    op.drop_column("invoices", "convention_number")
    op.drop_index("unbilled_completions_departement_idx", table_name="unbilled_completions")
    op.drop_table("unbilled_completions")
    op.drop_index("conventions_unsigned_idx", table_name="conventions")
    op.drop_index("conventions_departement_status_idx", table_name="conventions")
    op.drop_index("conventions_assignment_idx", table_name="conventions")
    op.drop_table("conventions")
    op.drop_table("convention_counters")
