"""The fake repository of the conventions sent for signature and their reminders."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifications.domain.views import ConventionReminder
from tests.unit.fakes.notifications.tables import ConventionReminderRow, Tables


class FakeConventionReminderRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, reminder: ConventionReminder, remind_at: datetime | None) -> bool:
        if reminder.convention_id in self._t.convention_reminders:
            return False
        self._t.convention_reminders[reminder.convention_id] = ConventionReminderRow(
            reminder, remind_at
        )
        return True

    async def close(self, convention_id: UUID, now: datetime) -> None:
        row = self._t.convention_reminders.get(convention_id)
        if row is not None and row.closed_at is None:
            row.closed_at = now

    async def due(self, now: datetime, limit: int) -> list[ConventionReminder]:
        rows = sorted(
            (
                r
                for r in self._t.convention_reminders.values()
                if r.reminded_at is None
                and r.closed_at is None
                and r.remind_at is not None
                and r.remind_at <= now < r.reminder.valid_until
            ),
            key=lambda r: r.remind_at or now,
        )
        return [r.reminder for r in rows[:limit]]

    async def mark_reminded(self, convention_id: UUID, now: datetime) -> None:
        self._t.convention_reminders[convention_id].reminded_at = now
