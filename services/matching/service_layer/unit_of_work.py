"""The matching service's unit of work: its state, outbox and inbox in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.adapters.repository import MatchingRepository
from shared.db.unit_of_work import SqlUnitOfWork


class MatchingUnitOfWork(SqlUnitOfWork):
    repository: MatchingRepository

    def _open_repositories(self, session: AsyncSession) -> None:
        self.repository = MatchingRepository(session)
