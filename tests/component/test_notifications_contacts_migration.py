"""Migrations 0005 and 0006 (ADR 0021): preferences kept by address alone become the
preferences of that address's contact in each département where it is known; webhook
secrets kept in clear are sealed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from alembic import command

from services.notifications.config import NotificationSettings
from services.notifications.entrypoints.main import MIGRATIONS
from shared.db.migrations import alembic_config

pytestmark = [pytest.mark.postgres]


async def test_preferences_move_to_the_contacts_of_each_departement_that_knows_the_address(
    fresh_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await fresh_database("notifications")
    config = alembic_config(Path(MIGRATIONS), url)
    await asyncio.to_thread(command.upgrade, config, "0004")
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(
            """
            INSERT INTO demandes (request_id, departement, requester_code, requester_name,
                contact_name, contact_email, title, status, submitted_at, last_news_at)
            VALUES (gen_random_uuid(), '49', '49007', 'Angers', 'Marie', 'Marie@Example.fr',
                    't', 'open', now(), now());
            INSERT INTO team_contacts (departement, email, updated_at, updated_by)
            VALUES ('35', 'marie@example.fr', now(), 'x');
            INSERT INTO preferences (email, opted_out, digest, updated_at, updated_by)
            VALUES ('marie@example.fr', '["acteur_propose"]', 'daily', now(), 'admin'),
                   ('nobody@example.fr', '[]', 'daily', now(), 'admin');
            """
        )
        await asyncio.to_thread(command.upgrade, config, "head")
        rows = await conn.fetch(
            "SELECT departement, email, opted_out, digest FROM contacts ORDER BY departement"
        )
        tables = await conn.fetchval("SELECT to_regclass('preferences') IS NULL")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [
        ("35", "marie@example.fr", '["acteur_propose"]', "daily"),
        ("49", "marie@example.fr", '["acteur_propose"]', "daily"),
    ]
    assert tables is True


async def test_webhook_secrets_stored_in_clear_are_sealed(
    fresh_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await fresh_database("notifications")
    config = alembic_config(Path(MIGRATIONS), url)
    await asyncio.to_thread(command.upgrade, config, "0006")
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(
            """
            INSERT INTO webhook_subscriptions (id, departement, url, event_types, secret,
                active, created_at, created_by)
            VALUES (gen_random_uuid(), '49', 'https://hooks.example.org/x', '[]',
                    'a-secret-in-clear-0123456789', true, now(), 'x')
            """
        )
        await asyncio.to_thread(command.upgrade, config, "head")
        stored = await conn.fetchval("SELECT secret FROM webhook_subscriptions")
        await asyncio.to_thread(command.downgrade, config, "0006")
        restored = await conn.fetchval("SELECT secret FROM webhook_subscriptions")
    finally:
        await conn.close()
    assert stored.startswith("enc:v1:") and "in-clear" not in stored
    assert NotificationSettings().secret_box().open(stored) == "a-secret-in-clear-0123456789"
    assert restored == "a-secret-in-clear-0123456789"
