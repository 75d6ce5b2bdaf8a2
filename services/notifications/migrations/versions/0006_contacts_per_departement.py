"""contacts per département: preferences keyed by (département, address) under an opaque
id, instead of the address alone; actors' addresses keyed by (département, actor id)
(ADR 0021)

Every address that had preferences gets a contact in each département where it is known
(a demande's contact, an actor's or a team's address, a past delivery), with the same
preferences; then the table keyed by address alone goes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "opted_out",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=10), server_default="none", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("departement", "email", name="contacts_departement_email_key"),
    )
    op.execute(
        """
        INSERT INTO contacts (id, departement, email, opted_out, digest, created_at,
                              updated_at, updated_by)
        SELECT gen_random_uuid(), known.departement, p.email, p.opted_out, p.digest,
               p.updated_at, p.updated_at, p.updated_by
        FROM preferences p
        JOIN (
            SELECT departement, lower(contact_email) AS email FROM demandes
            UNION SELECT departement, email FROM actor_contacts
            UNION SELECT departement, email FROM team_contacts
            UNION SELECT departement, lower(address) FROM deliveries WHERE address IS NOT NULL
        ) known ON known.email = p.email
        ON CONFLICT (departement, email) DO NOTHING
        """
    )
    op.drop_table("preferences")
    # An actor id is its département's catalogue's: keyed within the département.
    op.drop_constraint("actor_contacts_pkey", "actor_contacts", type_="primary")
    op.create_primary_key("actor_contacts_pkey", "actor_contacts", ["departement", "actor_id"])


def downgrade() -> None:
    op.drop_constraint("actor_contacts_pkey", "actor_contacts", type_="primary")
    op.create_primary_key("actor_contacts_pkey", "actor_contacts", ["actor_id"])
    op.create_table(
        "preferences",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("opted_out", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("digest", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("email"),
    )
    op.drop_table("contacts")
