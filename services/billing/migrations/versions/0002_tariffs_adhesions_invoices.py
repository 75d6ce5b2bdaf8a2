"""tariffs adhesions invoices runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:48:49.658482
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
        "adhesions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("collectivite_code", sa.String(length=9), nullable=False),
        sa.Column("collectivite_kind", sa.String(length=10), nullable=False),
        sa.Column("collectivite_name", sa.String(length=200), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("year", "collectivite_code", name="adhesions_year_collectivite_key"),
    )
    op.create_index(
        "adhesions_departement_year_idx",
        "adhesions",
        ["departement", "year", "collectivite_code"],
        unique=False,
    )
    op.create_table(
        "cotisation_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("departements", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("already_invoiced", sa.Integer(), nullable=False),
        sa.Column("amount_incl_tax", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "invoice_counters",
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("departement", "year"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("document_kind", sa.String(length=12), nullable=False),
        sa.Column("invoice_kind", sa.String(length=12), nullable=False),
        sa.Column("collectivite_code", sa.String(length=9), nullable=False),
        sa.Column("collectivite_kind", sa.String(length=10), nullable=False),
        sa.Column("collectivite_name", sa.String(length=200), nullable=False),
        sa.Column("tariff_version", sa.Integer(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_excl_tax", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("total_vat", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("total_incl_tax", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("refers_to", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source_key", sa.String(length=120), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("assignment_id", sa.Uuid(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("departement", "year", "sequence", name="invoices_sequence_key"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("source_key"),
    )
    op.create_index(
        "invoices_collectivite_idx", "invoices", ["collectivite_code", "year"], unique=False
    )
    op.create_table(
        "tariffs",
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("departement", "year", "version"),
    )


def downgrade() -> None:
    op.drop_table("tariffs")
    op.drop_index("invoices_collectivite_idx", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("invoice_counters")
    op.drop_table("cotisation_runs")
    op.drop_index("adhesions_departement_year_idx", table_name="adhesions")
    op.drop_table("adhesions")
