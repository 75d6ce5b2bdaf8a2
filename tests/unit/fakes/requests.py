"""In-memory stand-ins for the requests service's adapters."""

from __future__ import annotations

from dataclasses import replace
from typing import Self
from uuid import UUID

from services.requests.domain.model import Demande, DemandeFilter, RequestStatus
from services.requests.domain.progress import AssignmentView
from services.requests.domain.project import Project
from tests.unit.fakes import FakeUnitOfWorkBase

OPEN_STATUSES = (RequestStatus.SUBMITTED, RequestStatus.PROPOSED, RequestStatus.IN_PROGRESS)


class FakeDemandeRepository:
    def __init__(self) -> None:
        self.rows: dict[UUID, Demande] = {}
        self.staged: dict[UUID, Demande] = {}
        self.assignment_views: dict[UUID, dict[UUID, AssignmentView]] = {}

    async def assignments(self, demande_id: UUID) -> list[AssignmentView]:
        return list(self.assignment_views.get(demande_id, {}).values())

    async def save_assignment(self, demande_id: UUID, view: AssignmentView) -> None:
        views = self.assignment_views.setdefault(demande_id, {})
        if view.assignment_id in views:
            views[view.assignment_id].status = view.status
        else:
            views[view.assignment_id] = replace(view)

    async def add(self, demande: Demande) -> bool:
        if demande.id in self.rows or demande.id in self.staged:
            return False
        self.staged[demande.id] = replace(demande)
        return True

    async def get(self, demande_id: UUID, *, for_update: bool = False) -> Demande | None:
        found = self.staged.get(demande_id) or self.rows.get(demande_id)
        return replace(found) if found else None

    async def save_status(self, demande: Demande) -> None:
        self.staged[demande.id] = replace(demande)

    def _all(self) -> list[Demande]:
        return [replace(d) for d in ({**self.rows, **self.staged}).values()]

    async def open_of(self, requester_code: str, departement: str) -> list[Demande]:
        return [
            d
            for d in self._all()
            if d.requester_code == requester_code
            and d.departement == departement
            and d.status in OPEN_STATUSES
        ]

    async def of_project(self, project_id: UUID) -> list[Demande]:
        found = [d for d in self._all() if d.project_id == project_id]
        return sorted(found, key=lambda d: (d.phase_number, d.submitted_at))

    async def next_of(self, demande_id: UUID) -> Demande | None:
        return next((d for d in self._all() if d.previous_demande_id == demande_id), None)

    async def add_deliverable(self, demande_id: UUID, reference: str) -> bool:
        demande = await self.get(demande_id)
        if demande is None or reference in demande.deliverables:
            return False
        demande.deliverables.append(reference)
        self.staged[demande_id] = demande
        return True

    async def search(
        self, criteria: DemandeFilter, *, limit: int, offset: int
    ) -> tuple[list[Demande], int]:
        found = [
            d
            for d in self.rows.values()
            if (criteria.departement is None or d.departement == criteria.departement)
            and (criteria.requester_code is None or d.requester_code == criteria.requester_code)
            and (criteria.status is None or d.status == criteria.status)
            and (criteria.theme is None or criteria.theme in d.themes)
        ]
        found.sort(key=lambda d: d.submitted_at, reverse=True)
        return found[offset : offset + limit], len(found)


class FakeProjectRepository:
    def __init__(self) -> None:
        self.rows: dict[UUID, Project] = {}
        self.staged: dict[UUID, Project] = {}

    async def add(self, project: Project) -> None:
        self.staged[project.id] = replace(project)

    async def get(self, project_id: UUID, *, for_update: bool = False) -> Project | None:
        found = self.staged.get(project_id) or self.rows.get(project_id)
        return replace(found) if found else None

    async def save_revision(self, project: Project) -> None:
        self.staged[project.id] = replace(project)


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self) -> None:
        super().__init__("requests")
        self.demandes = FakeDemandeRepository()
        self.projects = FakeProjectRepository()

    async def __aenter__(self) -> Self:
        # The base returns its own type, which lacks this service's repositories.
        return self

    def _commit_repositories(self) -> None:
        self.demandes.rows.update(self.demandes.staged)
        self.demandes.staged.clear()
        self.projects.rows.update(self.projects.staged)
        self.projects.staged.clear()

    def _rollback_repositories(self) -> None:
        self.demandes.staged.clear()
        self.projects.staged.clear()
