"""What the matching use cases need of the outside world, as Protocols: one repository
per aggregate (actors, routed demandes, assignments), the projection of the adhésions,
and the unit of work holding them.

The SQL adapters (``services.matching.adapters``) and the tests' fakes
(``tests.unit.fakes.matching``) both satisfy them; ``bootstrap`` wires the former.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.matching.domain.deliverables import Deliverable
from services.matching.domain.lifecycle import Assignment, AssignmentFilter
from services.matching.domain.membership import Membership
from services.matching.domain.missions import Handover, Milestone
from services.matching.domain.model import Actor, ActorState
from services.matching.domain.routing import RoutedDemande
from shared.messaging.ports import UnitOfWork as BaseUnitOfWork


class ActorRepository(Protocol):
    async def upsert(self, actor: Actor, now: datetime) -> tuple[int, bool]:
        """Store the actor; returns its new version and whether it is new."""
        ...

    async def get(self, actor_id: str) -> Actor | None: ...

    async def of_departement(
        self, departement: str | None, *, lock: bool = False
    ) -> list[Actor]: ...

    async def states(self, actor_ids: list[str], requester_code: str) -> dict[str, ActorState]:
        """Each actor's open load, and whether it has worked for ``requester_code``."""
        ...


class DemandeRepository(Protocol):
    async def add(self, demande: RoutedDemande) -> bool:
        """False (nothing stored) when the demande was routed before."""
        ...

    async def get(self, request_id: UUID, *, lock: bool = False) -> RoutedDemande | None: ...

    async def save(self, demande: RoutedDemande) -> None: ...

    async def unmatched(
        self, departement: str | None, limit: int, offset: int
    ) -> list[RoutedDemande]: ...


class AssignmentRepository(Protocol):
    async def add(self, a: Assignment) -> None: ...

    async def save(self, a: Assignment) -> None: ...

    async def get(self, assignment_id: UUID, *, lock: bool = False) -> Assignment | None: ...

    async def of_request(self, request_id: UUID) -> list[Assignment]: ...

    async def search(
        self, criteria: AssignmentFilter, *, limit: int, offset: int
    ) -> list[Assignment]: ...

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Assignment]:
        """Open proposals past their deadline, oldest first; other instances skip them."""
        ...

    async def in_charge_of(self, actor_id: str, agent: str) -> list[Assignment]:
        """The missions under way of one agent of an actor, locked for a hand-over."""
        ...


class MilestoneRepository(Protocol):
    async def add(self, m: Milestone) -> None: ...

    async def save(self, m: Milestone) -> None: ...

    async def get(self, milestone_id: UUID, *, lock: bool = False) -> Milestone | None: ...

    async def of_mission(self, assignment_id: UUID) -> list[Milestone]:
        """In plan order."""
        ...


class DeliverableRepository(Protocol):
    """What the deliverables are; their bytes are in the :class:`ContentStore`."""

    async def add(self, d: Deliverable) -> None: ...

    async def get(self, deliverable_id: UUID) -> Deliverable | None: ...

    async def of_mission(self, assignment_id: UUID) -> list[Deliverable]: ...


class HandoverRepository(Protocol):
    async def add(self, h: Handover) -> None: ...

    async def of_mission(self, assignment_id: UUID) -> list[Handover]: ...


class ContentStore(Protocol):
    """Where the bytes of the deliverables live: PostgreSQL (default) or an S3-compatible
    object store. Not part of the unit of work: bytes are put before the description is
    committed, so a failed commit leaves at worst bytes nobody refers to."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...


class MembershipRepository(Protocol):
    async def register(self, added: Sequence[Membership]) -> None:
        """Store the adhésions; one already known is left as it is (its end kept)."""
        ...

    async def end(self, adhesion_id: UUID, ended_at: datetime) -> bool:
        """Mark it ended; False when the adhésion is unknown."""
        ...

    async def of(self, departement: str, codes: Collection[str]) -> list[Membership]:
        """Every adhésion, of any year, of these collectivités in the département."""
        ...

    async def clear(self) -> int:
        """Forget every adhésion (before a rebuild); how many there were."""
        ...

    async def count(self, departement: str | None = None, year: int | None = None) -> int:
        """How many adhésions the projection holds, ended ones included."""
        ...


class UnitOfWork(BaseUnitOfWork, Protocol):
    """The matching service's transaction: its repositories and the outbox, all or nothing."""

    @property
    def actors(self) -> ActorRepository: ...

    @property
    def demandes(self) -> DemandeRepository: ...

    @property
    def assignments(self) -> AssignmentRepository: ...

    @property
    def milestones(self) -> MilestoneRepository: ...

    @property
    def deliverables(self) -> DeliverableRepository: ...

    @property
    def handovers(self) -> HandoverRepository: ...

    @property
    def memberships(self) -> MembershipRepository: ...
