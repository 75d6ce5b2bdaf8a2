"""projects: every demande is one phase of a project

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:00:00.000000

Each existing demande becomes the first (and only) phase of its own project, whose id
is the demande's id.
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
        "projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("requester_code", sa.String(length=9), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.add_column("demandes", sa.Column("project_id", sa.Uuid(), nullable=True))
    op.add_column(
        "demandes", sa.Column("phase_number", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("demandes", sa.Column("previous_demande_id", sa.Uuid(), nullable=True))
    op.add_column(
        "demandes",
        sa.Column(
            "carried_deliverables",
            postgresql.ARRAY(sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column(
        "demandes",
        sa.Column("deliverables", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
    )
    op.add_column(
        "demandes",
        sa.Column(
            "suspected_duplicate_of",
            postgresql.ARRAY(sa.Uuid()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.execute(
        "INSERT INTO projects (id, departement, requester_code, title, created_at) "
        "SELECT id, departement, requester_code, title, submitted_at FROM demandes"
    )
    op.execute("UPDATE demandes SET project_id = id")
    op.alter_column("demandes", "project_id", nullable=False)
    op.create_unique_constraint(
        "demandes_previous_demande_id_key", "demandes", ["previous_demande_id"]
    )
    op.create_index(
        "demandes_project_idx", "demandes", ["project_id", "phase_number"], unique=False
    )


def downgrade() -> None:
    op.drop_index("demandes_project_idx", table_name="demandes")
    op.drop_constraint("demandes_previous_demande_id_key", "demandes", type_="unique")
    for column in (
        "suspected_duplicate_of",
        "deliverables",
        "carried_deliverables",
        "previous_demande_id",
        "phase_number",
        "project_id",
    ):
        op.drop_column("demandes", column)
    op.drop_table("projects")
