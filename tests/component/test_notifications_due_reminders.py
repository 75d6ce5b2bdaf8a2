"""The one rule for claiming due reminders, on the real database: a convention's reminder
is claimed when its time has come, the convention is neither closed nor expired, and it
was not sent yet; a proposal's reminder by the same rule."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.notifications.adapters.convention_reminders import (
    SqlConventionReminderRepository,
)
from services.notifications.domain.views import ConventionReminder
from shared.db.migrations import upgrade

pytestmark = [pytest.mark.postgres]

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "notifications" / "migrations"
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def reminder(number: str, valid_until: datetime) -> ConventionReminder:
    return ConventionReminder(
        convention_id=uuid.uuid4(),
        demande_id=uuid.uuid4(),
        departement="49",
        number=number,
        valid_until=valid_until,
        total_incl_tax="1234.50",
    )


async def test_only_due_open_unsent_unexpired_reminders_are_claimed(
    fresh_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await fresh_database("notifications_due")
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    engine = create_async_engine(url)
    due = reminder("CONV-49-2027-000001", NOW + timedelta(days=7))
    later = reminder("CONV-49-2027-000002", NOW + timedelta(days=30))
    closed = reminder("CONV-49-2027-000003", NOW + timedelta(days=7))
    expired = reminder("CONV-49-2027-000004", NOW - timedelta(days=1))
    sent = reminder("CONV-49-2027-000005", NOW + timedelta(days=7))
    try:
        async with AsyncSession(engine) as session, session.begin():
            session_repo = SqlConventionReminderRepository(session)
            for r, at in (
                (due, NOW - timedelta(hours=1)),
                (later, NOW + timedelta(days=23)),
                (closed, NOW - timedelta(hours=1)),
                (expired, NOW - timedelta(days=8)),
                (sent, NOW - timedelta(hours=2)),
            ):
                assert await session_repo.add(r, at)
            await session_repo.close(closed.convention_id, NOW)
            await session_repo.mark_reminded(sent.convention_id, NOW)
            claimed = await session_repo.due(NOW, limit=10)
        assert [c.number for c in claimed] == [due.number]
    finally:
        await engine.dispose()
