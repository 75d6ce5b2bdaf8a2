"""requester contacts from the restricted topic; integration projection's inbox

The contact of a demande no longer comes with requests.request.submitted (v2 names it by
id): it is kept from requests.contact.v1, and a demande's card may wait for it (ADR 0020).
The projection to the départements' integration topics has an inbox of its own: the
service's consumers and it see the same events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.messaging_migration import create_processed_events_table

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "requester_contacts",
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    op.add_column("demandes", sa.Column("contact_id", sa.Uuid(), nullable=True))
    op.alter_column("demandes", "contact_name", existing_type=sa.String(120), nullable=True)
    op.alter_column("demandes", "contact_email", existing_type=sa.String(320), nullable=True)
    op.create_index(
        "demandes_awaiting_contact_idx",
        "demandes",
        ["contact_id"],
        unique=False,
        postgresql_where=sa.text("contact_email IS NULL"),
    )
    create_processed_events_table("integration_processed_events")


def downgrade() -> None:
    op.drop_table("integration_processed_events")
    op.drop_index("demandes_awaiting_contact_idx", table_name="demandes")
    op.drop_column("demandes", "contact_id")
    op.drop_table("requester_contacts")
