"""In-memory stand-ins for the resources service's adapters.

The search index is a plain filter (every word of the text, lower-cased, in the title or
the summary): the ranking and the French stemming are PostgreSQL's, tested on it
(``tests/component/test_resources_search.py``).
"""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime, timedelta
from typing import Generic, Self, TypeVar
from uuid import UUID

from services.resources.domain.experiences import Experience, ExperienceStatus
from services.resources.domain.report_facts import Fact, FactKind
from services.resources.domain.sheets import HitKind, SearchHit, SearchQuery, Sheet
from services.resources.domain.surveys import REMIND_AFTER, Survey
from services.resources.domain.trainings import Registration, ReminderDue, TrainingSession
from shared.contracts.resources import RegistrationStatus
from tests.unit.fakes import FakeUnitOfWorkBase

Row = TypeVar("Row")


class _Staged(Generic[Row]):
    """Rows committed and rows written by the open transaction."""

    def __init__(self) -> None:
        self.rows: dict[UUID, Row] = {}
        self.staged: dict[UUID, Row] = {}

    def find(self, key: UUID) -> Row | None:
        found = self.staged.get(key) or self.rows.get(key)
        return deepcopy(found) if found is not None else None

    def all(self) -> list[Row]:
        return [deepcopy(r) for r in {**self.rows, **self.staged}.values()]

    def put(self, key: UUID, row: Row) -> None:
        self.staged[key] = deepcopy(row)

    def commit(self) -> None:
        self.rows.update(self.staged)
        self.staged.clear()


class FakeSheetRepository(_Staged[Sheet]):
    async def add(self, sheet: Sheet) -> bool:
        if self.find(sheet.id) is not None:
            return False
        self.put(sheet.id, sheet)
        return True

    async def get(self, sheet_id: UUID, *, for_update: bool = False) -> Sheet | None:
        return self.find(sheet_id)

    async def save(self, sheet: Sheet) -> None:
        self.put(sheet.id, sheet)


class FakeExperienceRepository(_Staged[Experience]):
    async def add(self, experience: Experience) -> bool:
        if any(e.assignment_id == experience.assignment_id for e in self.all()):
            return False
        self.put(experience.id, experience)
        return True

    async def get(self, experience_id: UUID, *, for_update: bool = False) -> Experience | None:
        return self.find(experience_id)

    async def save(self, experience: Experience) -> None:
        self.put(experience.id, experience)


class FakeTrainingRepository:
    def __init__(self) -> None:
        self.sessions = _Staged[TrainingSession]()
        self.registered = _Staged[Registration]()
        self.next_position = 0
        self.reminded: set[tuple[UUID, int]] = set()

    async def add_session(self, training: TrainingSession) -> None:
        self.sessions.put(training.id, training)

    async def get_session(
        self, session_id: UUID, *, for_update: bool = False
    ) -> TrainingSession | None:
        return self.sessions.find(session_id)

    async def upcoming(self, departement: str | None, after: datetime) -> list[TrainingSession]:
        return sorted(
            (
                t
                for t in self.sessions.all()
                if t.starts_at > after and departement in (None, t.departement)
            ),
            key=lambda t: t.starts_at,
        )

    async def save_seats(self, training: TrainingSession) -> None:
        self.sessions.put(training.id, training)

    async def add_registration(self, registration: Registration) -> int:
        self.next_position += 1
        registration.position = self.next_position
        self.registered.put(registration.id, registration)
        return self.next_position

    async def get_registration(self, registration_id: UUID) -> Registration | None:
        return self.registered.find(registration_id)

    async def registrations(
        self, session_id: UUID, status: RegistrationStatus | None = None
    ) -> list[Registration]:
        return sorted(
            (
                r
                for r in self.registered.all()
                if r.session_id == session_id and status in (None, r.status)
            ),
            key=lambda r: r.position,
        )

    async def save_registration(self, registration: Registration) -> None:
        self.registered.put(registration.id, registration)

    async def claim_reminders(self, days_before: int, now: datetime) -> list[ReminderDue]:
        after = now + timedelta(days=1) if days_before == 7 else now
        due = []
        for r in await self.registrations_all():
            session = self.sessions.find(r.session_id)
            if (
                session is None
                or r.status is not RegistrationStatus.REGISTERED
                or (r.id, days_before) in self.reminded
                or not after < session.starts_at <= now + timedelta(days=days_before)
            ):
                continue
            self.reminded.add((r.id, days_before))
            due.append(
                ReminderDue(
                    r, days_before, session.title, session.starts_at, session.online, session.place
                )
            )
        return due

    async def registrations_all(self) -> list[Registration]:
        return sorted(self.registered.all(), key=lambda r: r.position)


class FakeSearchIndex:
    def __init__(self, sheets: FakeSheetRepository, experiences: FakeExperienceRepository):
        self._sheets = sheets
        self._experiences = experiences

    async def search(
        self, query: SearchQuery, *, limit: int, offset: int
    ) -> tuple[list[SearchHit], int]:
        words = query.text.lower().split()
        hits = [
            SearchHit(HitKind.SHEET, s.id, s.departement, s.title, s.summary, s.summary, 1.0)
            for s in self._sheets.all()
            if (query.departement in (None, s.departement) or s.national)
            and all(w in f"{s.title} {s.summary}".lower() for w in words)
        ] + [
            SearchHit(HitKind.EXPERIENCE, e.id, e.departement, e.title, e.context, e.context, 1.0)
            for e in self._experiences.all()
            if e.status is ExperienceStatus.PUBLISHED
            and query.departement in (None, e.departement)
            and all(w in f"{e.title} {e.context}".lower() for w in words)
        ]
        return hits[offset : offset + limit], len(hits)


class FakeReportFacts:
    """Facts are written at once (no staging): the use cases that add them commit."""

    def __init__(self) -> None:
        self.rows: list[Fact] = []
        self.alerts: set[tuple[str, str, str]] = set()

    async def add(self, facts: list[Fact]) -> int:
        known = {f.event_id for f in self.rows}
        new = [f for f in facts if f.event_id not in known]
        self.rows += new
        return len(new)

    async def of_departement(self, departement: str) -> list[Fact]:
        return [f for f in self.rows if f.departement == departement]

    async def since(self, moment: datetime, kinds: list[FactKind]) -> list[Fact]:
        return [f for f in self.rows if f.occurred_at >= moment and f.kind in kinds]

    async def remember_alert(
        self, departement: str, actor_id: str, quarter: str, now: datetime
    ) -> bool:
        key = (departement, actor_id, quarter)
        if key in self.alerts:
            return False
        self.alerts.add(key)
        return True

    async def clear(self, departement: str | None = None) -> int:
        kept = [f for f in self.rows if departement not in (None, f.departement)]
        cleared = len(self.rows) - len(kept)
        self.rows = kept
        return cleared


class FakeSurveyRepository(_Staged[Survey]):
    async def add(self, survey: Survey) -> bool:
        if any(s.assignment_id == survey.assignment_id for s in self.all()):
            return False
        self.put(survey.id, survey)
        return True

    async def get(self, survey_id: UUID, *, for_update: bool = False) -> Survey | None:
        return self.find(survey_id)

    async def save_answer(self, survey: Survey) -> None:
        self.put(survey.id, survey)

    async def claim_due(self, now: datetime) -> list[Survey]:
        due = [s for s in self.all() if s.asked_at is None and s.due_at <= now]
        for survey in due:
            survey.asked_at = now
            self.put(survey.id, survey)
        return due

    async def claim_reminders(self, now: datetime) -> list[Survey]:
        due = [
            s
            for s in self.all()
            if s.answered_at is None
            and s.reminded_at is None
            and s.asked_at is not None
            and s.asked_at <= now - REMIND_AFTER
        ]
        for survey in due:
            survey.reminded_at = now
            self.put(survey.id, survey)
        return due

    async def answered(self, departement: str) -> list[Survey]:
        return [s for s in self.all() if s.departement == departement and s.answered_at]


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self) -> None:
        super().__init__("resources")
        self.sheets = FakeSheetRepository()
        self.experiences = FakeExperienceRepository()
        self.trainings = FakeTrainingRepository()
        self.search_index = FakeSearchIndex(self.sheets, self.experiences)
        self.report_facts = FakeReportFacts()
        self.surveys = FakeSurveyRepository()

    async def __aenter__(self) -> Self:
        # The base returns its own type, which lacks this service's repositories.
        return self

    def _commit_repositories(self) -> None:
        for store in (
            self.sheets,
            self.experiences,
            self.trainings.sessions,
            self.trainings.registered,
            self.surveys,
        ):
            store.commit()

    def _rollback_repositories(self) -> None:
        for store in (
            self.sheets,
            self.experiences,
            self.trainings.sessions,
            self.trainings.registered,
            self.surveys,
        ):
            store.staged.clear()
