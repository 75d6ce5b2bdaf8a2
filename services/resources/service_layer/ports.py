"""What the resources use cases need of the outside world, as Protocols.

The SQL adapters (``services.resources.adapters``) and the tests' fakes
(``tests.unit.fakes.resources``) both satisfy them; ``bootstrap`` wires the former.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.resources.domain.experiences import Experience
from services.resources.domain.report_facts import Fact, FactKind
from services.resources.domain.sheets import SearchHit, SearchQuery, Sheet
from services.resources.domain.surveys import Survey
from services.resources.domain.trainings import Registration, ReminderDue, TrainingSession
from shared.contracts.resources import RegistrationStatus
from shared.messaging.ports import UnitOfWork as BaseUnitOfWork


class SheetRepository(Protocol):
    async def add(self, sheet: Sheet) -> bool:
        """Store a new sheet; False (nothing stored) when its id is already taken."""
        ...

    async def get(self, sheet_id: UUID, *, for_update: bool = False) -> Sheet | None: ...

    async def save(self, sheet: Sheet) -> None: ...


class ExperienceRepository(Protocol):
    async def add(self, experience: Experience) -> bool:
        """Store a draft; False when the mission already has one."""
        ...

    async def get(self, experience_id: UUID, *, for_update: bool = False) -> Experience | None: ...

    async def save(self, experience: Experience) -> None: ...


class TrainingRepository(Protocol):
    async def add_session(self, training: TrainingSession) -> None: ...

    async def get_session(
        self, session_id: UUID, *, for_update: bool = False
    ) -> TrainingSession | None:
        """``for_update`` locks the session's row until the transaction ends: the one way
        to change its seats."""
        ...

    async def upcoming(self, departement: str | None, after: datetime) -> list[TrainingSession]: ...

    async def save_seats(self, training: TrainingSession) -> None: ...

    async def add_registration(self, registration: Registration) -> int:
        """Store it; returns its position in the order of arrival."""
        ...

    async def get_registration(self, registration_id: UUID) -> Registration | None: ...

    async def registrations(
        self, session_id: UUID, status: RegistrationStatus | None = None
    ) -> list[Registration]:
        """The session's registrations in order of arrival."""
        ...

    async def save_registration(self, registration: Registration) -> None: ...

    async def claim_reminders(self, days_before: int, now: datetime) -> list[ReminderDue]:
        """The confirmed registrations due for this reminder, each claimed once."""
        ...


class SearchIndex(Protocol):
    async def search(
        self, query: SearchQuery, *, limit: int, offset: int
    ) -> tuple[list[SearchHit], int]:
        """Sheets and published experiences, best first, and how many match in all."""
        ...


class ReportFacts(Protocol):
    """The activity reports' projection: facts drawn from events, one per event id."""

    async def add(self, facts: list[Fact]) -> int:
        """Store those not stored yet; returns how many were new."""
        ...

    async def of_departement(self, departement: str) -> list[Fact]: ...

    async def since(self, moment: datetime, kinds: list[FactKind]) -> list[Fact]:
        """Facts of these kinds that occurred from ``moment`` on, every département."""
        ...

    async def remember_alert(
        self, departement: str, actor_id: str, quarter: str, now: datetime
    ) -> bool:
        """True the first time this actor's alert of this quarter is raised."""
        ...

    async def clear(self, departement: str | None = None) -> int:
        """Empty the projection (of one département), before a rebuild from offset 0."""
        ...


class SurveyRepository(Protocol):
    async def add(self, survey: Survey) -> bool:
        """Store it; False when the mission has one already."""
        ...

    async def get(self, survey_id: UUID, *, for_update: bool = False) -> Survey | None: ...

    async def save_answer(self, survey: Survey) -> None: ...

    async def claim_due(self, now: datetime) -> list[Survey]:
        """The surveys due and not asked yet, marked asked: each claimed once."""
        ...

    async def claim_reminders(self, now: datetime) -> list[Survey]:
        """The surveys asked a week ago and still unanswered, marked reminded."""
        ...

    async def answered(self, departement: str) -> list[Survey]: ...


class UnitOfWork(BaseUnitOfWork, Protocol):
    """The resources service's transaction: its repositories and the outbox, all or nothing."""

    @property
    def sheets(self) -> SheetRepository: ...

    @property
    def experiences(self) -> ExperienceRepository: ...

    @property
    def trainings(self) -> TrainingRepository: ...

    @property
    def search_index(self) -> SearchIndex: ...

    @property
    def report_facts(self) -> ReportFacts: ...

    @property
    def surveys(self) -> SurveyRepository: ...
