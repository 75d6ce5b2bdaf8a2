"""In-memory stand-ins for the matching service's adapters.

Repositories store copies and hand out copies, so a use case changes what they hold
only through them; a rollback puts back what the last commit left.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Self
from uuid import UUID

from services.matching.domain.deliverables import Deliverable
from services.matching.domain.lifecycle import (
    OPEN_STATUSES,
    Assignment,
    AssignmentFilter,
    AssignmentStatus,
)
from services.matching.domain.membership import Membership
from services.matching.domain.missions import Handover, Milestone
from services.matching.domain.model import Actor, ActorState
from services.matching.domain.routing import RoutedDemande
from tests.unit.fakes import FakeUnitOfWorkBase


class FakeAssignmentRepository:
    def __init__(self) -> None:
        self.rows: dict[UUID, Assignment] = {}

    async def add(self, a: Assignment) -> None:
        self.rows[a.id] = replace(a)

    async def save(self, a: Assignment) -> None:
        self.rows[a.id] = replace(a)

    async def get(self, assignment_id: UUID, *, lock: bool = False) -> Assignment | None:
        found = self.rows.get(assignment_id)
        return replace(found) if found else None

    async def of_request(self, request_id: UUID) -> list[Assignment]:
        found = [replace(a) for a in self.rows.values() if a.request_id == request_id]
        return sorted(found, key=lambda a: (a.proposed_at, a.id))

    async def search(
        self, criteria: AssignmentFilter, *, limit: int, offset: int
    ) -> list[Assignment]:
        found = [
            replace(a)
            for a in self.rows.values()
            if criteria.departement in (None, a.departement)
            and criteria.actor_id in (None, a.actor_id)
            and criteria.status in (None, a.status)
        ]
        found.sort(key=lambda a: (a.proposed_at, a.id), reverse=True)
        return found[offset : offset + limit]

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Assignment]:
        due = [
            replace(a)
            for a in self.rows.values()
            if a.status is AssignmentStatus.PROPOSED and a.respond_by < now
        ]
        return sorted(due, key=lambda a: a.respond_by)[:limit]

    async def in_charge_of(self, actor_id: str, agent: str) -> list[Assignment]:
        found = [
            replace(a)
            for a in self.rows.values()
            if a.actor_id == actor_id and a.agent == agent and a.status is AssignmentStatus.ACCEPTED
        ]
        return sorted(found, key=lambda a: (a.responded_at or a.proposed_at, a.id))


class FakeMilestoneRepository:
    def __init__(self) -> None:
        self.rows: dict[UUID, Milestone] = {}

    async def add(self, m: Milestone) -> None:
        self.rows[m.id] = replace(m)

    async def save(self, m: Milestone) -> None:
        self.rows[m.id] = replace(m)

    async def get(self, milestone_id: UUID, *, lock: bool = False) -> Milestone | None:
        found = self.rows.get(milestone_id)
        return replace(found) if found else None

    async def of_mission(self, assignment_id: UUID) -> list[Milestone]:
        found = [replace(m) for m in self.rows.values() if m.assignment_id == assignment_id]
        return sorted(found, key=lambda m: m.position)


class FakeDeliverableRepository:
    def __init__(self) -> None:
        self.rows: dict[UUID, Deliverable] = {}

    async def add(self, d: Deliverable) -> None:
        self.rows[d.id] = d

    async def get(self, deliverable_id: UUID) -> Deliverable | None:
        return self.rows.get(deliverable_id)

    async def of_mission(self, assignment_id: UUID) -> list[Deliverable]:
        found = [d for d in self.rows.values() if d.assignment_id == assignment_id]
        return sorted(found, key=lambda d: (d.added_at, d.id))


class FakeHandoverRepository:
    def __init__(self) -> None:
        self.rows: list[Handover] = []

    async def add(self, h: Handover) -> None:
        self.rows.append(h)

    async def of_mission(self, assignment_id: UUID) -> list[Handover]:
        return [h for h in self.rows if h.assignment_id == assignment_id]


class FakeContentStore:
    """The storage port in memory; not transactional, like the real ones."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    async def get(self, key: str) -> bytes | None:
        found = self.objects.get(key)
        return found[0] if found else None


class FakeActorRepository:
    def __init__(self, assignments: FakeAssignmentRepository) -> None:
        self.rows: dict[str, Actor] = {}
        self.versions: dict[str, int] = {}
        self._assignments = assignments

    async def upsert(self, actor: Actor, now: datetime) -> tuple[int, bool]:
        created = actor.id not in self.rows
        self.rows[actor.id] = actor
        self.versions[actor.id] = self.versions.get(actor.id, 0) + 1
        return self.versions[actor.id], created

    async def get(self, actor_id: str) -> Actor | None:
        return self.rows.get(actor_id)

    async def of_departement(self, departement: str | None, *, lock: bool = False) -> list[Actor]:
        found = [a for a in self.rows.values() if departement in (None, a.departement)]
        return sorted(found, key=lambda a: a.id)

    async def states(self, actor_ids: list[str], requester_code: str) -> dict[str, ActorState]:
        held = list(self._assignments.rows.values())
        worked = {AssignmentStatus.ACCEPTED, AssignmentStatus.COMPLETED}
        return {
            actor_id: ActorState(
                load=sum(a.actor_id == actor_id and a.status in OPEN_STATUSES for a in held),
                collectivites=frozenset({requester_code})
                if any(
                    a.actor_id == actor_id
                    and a.requester_code == requester_code
                    and a.status in worked
                    for a in held
                )
                else frozenset(),
            )
            for actor_id in actor_ids
        }


class FakeDemandeRepository:
    def __init__(self) -> None:
        self.rows: dict[UUID, RoutedDemande] = {}

    async def add(self, demande: RoutedDemande) -> bool:
        if demande.request_id in self.rows:
            return False
        self.rows[demande.request_id] = replace(demande)
        return True

    async def get(self, request_id: UUID, *, lock: bool = False) -> RoutedDemande | None:
        found = self.rows.get(request_id)
        return replace(found) if found else None

    async def save(self, demande: RoutedDemande) -> None:
        self.rows[demande.request_id] = replace(demande)

    async def unmatched(
        self, departement: str | None, limit: int, offset: int
    ) -> list[RoutedDemande]:
        found = [
            replace(d)
            for d in self.rows.values()
            if d.status == "unmatched" and departement in (None, d.departement)
        ]
        found.sort(key=lambda d: d.updated_at, reverse=True)
        return found[offset : offset + limit]


class FakeMembershipRepository:
    def __init__(self) -> None:
        self.rows: dict[UUID, Membership] = {}

    async def register(self, added: Sequence[Membership]) -> None:
        for m in added:
            self.rows.setdefault(m.adhesion_id, m)

    async def end(self, adhesion_id: UUID, ended_at: datetime) -> bool:
        found = self.rows.get(adhesion_id)
        if found is None:
            return False
        self.rows[adhesion_id] = replace(found, ended_at=ended_at)
        return True

    async def of(self, departement: str, codes: Collection[str]) -> list[Membership]:
        return [
            m
            for m in self.rows.values()
            if m.departement == departement and m.collectivite_code in codes
        ]

    async def clear(self) -> int:
        count, self.rows = len(self.rows), {}
        return count

    async def count(self, departement: str | None = None, year: int | None = None) -> int:
        return sum(
            departement in (None, m.departement) and year in (None, m.year)
            for m in self.rows.values()
        )


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self) -> None:
        super().__init__("matching")
        self.assignments = FakeAssignmentRepository()
        self.actors = FakeActorRepository(self.assignments)
        self.demandes = FakeDemandeRepository()
        self.milestones = FakeMilestoneRepository()
        self.deliverables = FakeDeliverableRepository()
        self.handovers = FakeHandoverRepository()
        self.memberships = FakeMembershipRepository()
        self._commit_repositories()

    async def __aenter__(self) -> Self:
        # The base returns its own type, which lacks this service's repositories.
        return self

    def _commit_repositories(self) -> None:
        self._committed = (
            dict(self.actors.rows),
            dict(self.actors.versions),
            dict(self.demandes.rows),
            dict(self.assignments.rows),
            dict(self.milestones.rows),
            dict(self.deliverables.rows),
            list(self.handovers.rows),
            dict(self.memberships.rows),
        )

    def _rollback_repositories(self) -> None:
        (
            actors,
            versions,
            demandes,
            assignments,
            milestones,
            deliverables,
            handovers,
            memberships,
        ) = self._committed
        self.actors.rows = dict(actors)
        self.actors.versions = dict(versions)
        self.demandes.rows = dict(demandes)
        self.assignments.rows = dict(assignments)
        self.milestones.rows = dict(milestones)
        self.deliverables.rows = dict(deliverables)
        self.handovers.rows = list(handovers)
        self.memberships.rows = dict(memberships)
