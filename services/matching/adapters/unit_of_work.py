"""The matching service's unit of work: its state, outbox and inbox in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.adapters.actors import SqlActorRepository
from services.matching.adapters.assignments import SqlAssignmentRepository
from services.matching.adapters.demandes import SqlDemandeRepository
from services.matching.adapters.memberships import SqlMembershipRepository
from services.matching.adapters.missions import (
    SqlDeliverableRepository,
    SqlHandoverRepository,
    SqlMilestoneRepository,
)
from shared.db.unit_of_work import SqlUnitOfWork


class MatchingUnitOfWork(SqlUnitOfWork):
    actors: SqlActorRepository
    demandes: SqlDemandeRepository
    assignments: SqlAssignmentRepository
    milestones: SqlMilestoneRepository
    deliverables: SqlDeliverableRepository
    handovers: SqlHandoverRepository
    memberships: SqlMembershipRepository

    def _open_repositories(self, session: AsyncSession) -> None:
        self.actors = SqlActorRepository(session)
        self.demandes = SqlDemandeRepository(session)
        self.assignments = SqlAssignmentRepository(session)
        self.milestones = SqlMilestoneRepository(session)
        self.deliverables = SqlDeliverableRepository(session)
        self.handovers = SqlHandoverRepository(session)
        self.memberships = SqlMembershipRepository(session)
