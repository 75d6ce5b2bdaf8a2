"""The notifications service's unit of work: its state, outbox and inbox in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.repository import NotificationsRepository
from shared.db.unit_of_work import SqlUnitOfWork


class NotificationsUnitOfWork(SqlUnitOfWork):
    repository: NotificationsRepository

    def _open_repositories(self, session: AsyncSession) -> None:
        self.repository = NotificationsRepository(session)
