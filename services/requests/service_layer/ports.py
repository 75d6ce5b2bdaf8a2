"""What the requests use cases need of the outside world, as Protocols.

The SQL adapters (``services.requests.adapters``) and the tests' fakes
(``tests.unit.fakes.requests``) both satisfy them; ``bootstrap`` wires the former.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from services.requests.domain.model import Demande, DemandeFilter
from services.requests.domain.progress import AssignmentView
from services.requests.domain.project import Project
from shared.messaging.ports import UnitOfWork as BaseUnitOfWork


class DemandeRepository(Protocol):
    async def add(self, demande: Demande) -> bool:
        """Store a new demande; False (nothing stored) when its id is already taken."""
        ...

    async def get(self, demande_id: UUID, *, for_update: bool = False) -> Demande | None: ...

    async def save_status(self, demande: Demande) -> None: ...

    async def search(
        self, criteria: DemandeFilter, *, limit: int, offset: int
    ) -> tuple[list[Demande], int]: ...

    async def open_of(self, requester_code: str, departement: str) -> list[Demande]:
        """The collectivité's demandes whose phase is under way (not closed, not unmatched)."""
        ...

    async def of_project(self, project_id: UUID) -> list[Demande]:
        """The project's demandes, one per phase, in phase order."""
        ...

    async def next_of(self, demande_id: UUID) -> Demande | None:
        """The demande of the phase opened after this one, if any."""
        ...

    async def add_deliverable(self, demande_id: UUID, reference: str) -> bool:
        """Keep a deliverable's reference on the demande, once; False if it was there."""
        ...

    async def assignments(self, demande_id: UUID) -> list[AssignmentView]: ...

    async def save_assignment(self, demande_id: UUID, view: AssignmentView) -> None: ...


class ProjectRepository(Protocol):
    async def add(self, project: Project) -> None: ...

    async def get(self, project_id: UUID, *, for_update: bool = False) -> Project | None: ...

    async def save_revision(self, project: Project) -> None: ...


class UnitOfWork(BaseUnitOfWork, Protocol):
    """The requests service's transaction: its repositories and the outbox, all or nothing."""

    @property
    def demandes(self) -> DemandeRepository: ...

    @property
    def projects(self) -> ProjectRepository: ...
