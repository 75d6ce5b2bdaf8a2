"""projection contacts preferences webhooks deliveries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:58:29.557575
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
        "actor_contacts",
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("actor_id"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("recipient_role", sa.String(length=12), nullable=False),
        sa.Column("recipient", sa.String(length=400), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("endpoint", sa.String(length=60), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_event_id", sa.String(length=64), nullable=False),
        sa.Column("source_event_type", sa.String(length=200), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("causation_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("digest_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "deliveries_awaiting_idx",
        "deliveries",
        ["request_id"],
        unique=False,
        postgresql_where=sa.text("status = 'awaiting_recipient'"),
    )
    op.create_index(
        "deliveries_departement_status_idx",
        "deliveries",
        ["departement", "status", "created_at"],
        unique=False,
    )
    op.create_index(
        "deliveries_due_idx",
        "deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "deliveries_held_idx",
        "deliveries",
        ["address"],
        unique=False,
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_table(
        "demandes",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("requester_code", sa.String(length=9), nullable=False),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_news_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index(
        "demandes_collectivite_idx", "demandes", ["requester_code", "departement"], unique=False
    )
    op.create_index(
        "demandes_follow_up_idx",
        "demandes",
        ["last_news_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "preferences",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("opted_out", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("digest", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("email"),
    )
    op.create_table(
        "proposals",
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id"),
    )
    op.create_index(
        "proposals_reminder_due_idx",
        "proposals",
        ["remind_at"],
        unique=False,
        postgresql_where=sa.text("status = 'proposed' AND reminded_at IS NULL"),
    )
    op.create_index("proposals_request_idx", "proposals", ["request_id"], unique=False)
    op.create_table(
        "team_contacts",
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("departement"),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event_types", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "webhook_subscriptions_departement_idx",
        "webhook_subscriptions",
        ["departement"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("webhook_subscriptions_departement_idx", table_name="webhook_subscriptions")
    op.drop_table("webhook_subscriptions")
    op.drop_table("team_contacts")
    op.drop_index("proposals_request_idx", table_name="proposals")
    op.drop_index(
        "proposals_reminder_due_idx",
        table_name="proposals",
        postgresql_where=sa.text("status = 'proposed' AND reminded_at IS NULL"),
    )
    op.drop_table("proposals")
    op.drop_table("preferences")
    op.drop_index(
        "demandes_follow_up_idx", table_name="demandes", postgresql_where=sa.text("status = 'open'")
    )
    op.drop_index("demandes_collectivite_idx", table_name="demandes")
    op.drop_table("demandes")
    op.drop_index(
        "deliveries_held_idx", table_name="deliveries", postgresql_where=sa.text("status = 'held'")
    )
    op.drop_index(
        "deliveries_due_idx",
        table_name="deliveries",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("deliveries_departement_status_idx", table_name="deliveries")
    op.drop_index(
        "deliveries_awaiting_idx",
        table_name="deliveries",
        postgresql_where=sa.text("status = 'awaiting_recipient'"),
    )
    op.drop_table("deliveries")
    op.drop_table("actor_contacts")
