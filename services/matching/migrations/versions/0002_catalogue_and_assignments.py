"""actors demandes assignments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:32:31.859424
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
        "actors",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("themes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("phases", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("territory", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("eligibility", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("actors_departement_idx", "actors", ["departement"], unique=False)
    op.create_table(
        "routed_demandes",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("requester_kind", sa.String(length=10), nullable=False),
        sa.Column("requester_code", sa.String(length=9), nullable=False),
        sa.Column("requester_population", sa.Integer(), nullable=False),
        sa.Column("needs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("uncovered", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index(
        "routed_demandes_departement_status_idx",
        "routed_demandes",
        ["departement", "status"],
        unique=False,
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("requester_code", sa.String(length=9), nullable=False),
        sa.Column("needs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("criteria", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("days_spent", sa.Numeric(precision=7, scale=2), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["actors.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["routed_demandes.request_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "assignments_actor_requester_idx",
        "assignments",
        ["actor_id", "requester_code"],
        unique=False,
    )
    op.create_index(
        "assignments_due_idx",
        "assignments",
        ["respond_by"],
        unique=False,
        postgresql_where=sa.text("status = 'proposed'"),
    )
    op.create_index(
        "assignments_open_by_actor_idx",
        "assignments",
        ["actor_id"],
        unique=False,
        postgresql_where=sa.text("status IN ('proposed', 'accepted')"),
    )
    op.create_index("assignments_request_idx", "assignments", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_index("assignments_request_idx", table_name="assignments")
    op.drop_index(
        "assignments_open_by_actor_idx",
        table_name="assignments",
        postgresql_where=sa.text("status IN ('proposed', 'accepted')"),
    )
    op.drop_index(
        "assignments_due_idx",
        table_name="assignments",
        postgresql_where=sa.text("status = 'proposed'"),
    )
    op.drop_index("assignments_actor_requester_idx", table_name="assignments")
    op.drop_table("assignments")
    op.drop_index("routed_demandes_departement_status_idx", table_name="routed_demandes")
    op.drop_table("routed_demandes")
    op.drop_index("actors_departement_idx", table_name="actors")
    op.drop_table("actors")
