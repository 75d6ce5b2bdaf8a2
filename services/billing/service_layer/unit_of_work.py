"""The billing service's unit of work: its state, outbox and inbox in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.repository import BillingRepository
from shared.db.unit_of_work import SqlUnitOfWork


class BillingUnitOfWork(SqlUnitOfWork):
    repository: BillingRepository

    def _open_repositories(self, session: AsyncSession) -> None:
        self.repository = BillingRepository(session)
