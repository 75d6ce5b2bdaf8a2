"""The billing service's unit of work: its state, outbox and inbox in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.adhesion_repository import SqlAdhesionRepository
from services.billing.adapters.buyer_repository import SqlBuyerRepository
from services.billing.adapters.convention_repository import SqlConventionRepository
from services.billing.adapters.invoice_repository import SqlInvoiceRepository
from services.billing.adapters.run_repository import SqlCotisationRunRepository
from services.billing.adapters.tariff_repository import SqlTariffRepository
from shared.db.unit_of_work import SqlUnitOfWork


class BillingUnitOfWork(SqlUnitOfWork):
    tariffs: SqlTariffRepository
    adhesions: SqlAdhesionRepository
    invoices: SqlInvoiceRepository
    runs: SqlCotisationRunRepository
    conventions: SqlConventionRepository
    buyers: SqlBuyerRepository

    def _open_repositories(self, session: AsyncSession) -> None:
        self.tariffs = SqlTariffRepository(session)
        self.adhesions = SqlAdhesionRepository(session)
        self.invoices = SqlInvoiceRepository(session)
        self.runs = SqlCotisationRunRepository(session)
        self.conventions = SqlConventionRepository(session)
        self.buyers = SqlBuyerRepository(session)
