"""webhook secrets sealed at rest: the column widens to hold a Fernet token, and the
secrets stored in clear are sealed with the first key of MG_NOTIFICATIONS_SECRETS_KEYS
(ADR 0021)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.notifications.config import NotificationSettings

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "webhook_subscriptions",
        "secret",
        type_=sa.String(length=600),
        existing_type=sa.String(length=200),
        existing_nullable=False,
    )
    box = NotificationSettings().secret_box()
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, secret FROM webhook_subscriptions")).all()
    for subscription_id, secret in rows:
        if not box.is_sealed(secret):
            connection.execute(
                sa.text("UPDATE webhook_subscriptions SET secret = :sealed WHERE id = :id"),
                {"sealed": box.seal(secret), "id": subscription_id},
            )


def downgrade() -> None:
    box = NotificationSettings().secret_box()
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, secret FROM webhook_subscriptions")).all()
    for subscription_id, secret in rows:
        connection.execute(
            sa.text("UPDATE webhook_subscriptions SET secret = :plain WHERE id = :id"),
            {"plain": box.open(secret), "id": subscription_id},
        )
    op.alter_column(
        "webhook_subscriptions",
        "secret",
        type_=sa.String(length=200),
        existing_type=sa.String(length=600),
        existing_nullable=False,
    )
