"""The requests service's unit of work: demandes, projects, outbox and inbox in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.requests.adapters.repository import SqlDemandeRepository, SqlProjectRepository
from shared.db.unit_of_work import SqlUnitOfWork


class RequestsUnitOfWork(SqlUnitOfWork):
    demandes: SqlDemandeRepository
    projects: SqlProjectRepository

    def _open_repositories(self, session: AsyncSession) -> None:
        self.demandes = SqlDemandeRepository(session)
        self.projects = SqlProjectRepository(session)
