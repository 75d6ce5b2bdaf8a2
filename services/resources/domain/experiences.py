"""The retour d'expérience: what an actor tells of a closed mission, so that similar
communes learn from it. Drafted when the mission closes, written by the actor, published
only once the collectivité has consented."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from shared.contracts.vocabulary import Phase, Theme
from shared.errors import Conflict, DomainValidationError, FieldError


class ExperienceStatus(StrEnum):
    DRAFT = "draft"
    WRITTEN = "written"
    PUBLISHED = "published"
    REFUSED = "refused"


@dataclass(slots=True)
class Experience:
    id: UUID
    assignment_id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    requester_code: str
    commune_population: int
    themes: list[Theme]
    phases: list[Phase]
    status: ExperienceStatus
    drafted_at: datetime
    title: str = ""
    context: str = ""
    what_was_done: str = ""
    lessons: str = ""
    contacts: str = ""
    cost: Decimal | None = None
    duration_days: Decimal | None = None
    published_at: datetime | None = None

    def write(
        self,
        *,
        title: str,
        context: str,
        what_was_done: str,
        lessons: str,
        contacts: str,
        cost: Decimal | None,
        duration_days: Decimal | None,
    ) -> None:
        if self.status in (ExperienceStatus.PUBLISHED, ExperienceStatus.REFUSED):
            raise Conflict("Ce retour d'expérience n'est plus modifiable.")
        errors: list[FieldError] = []
        if len(title.strip()) < 5:
            errors.append(FieldError("title", "Le titre doit compter au moins 5 caractères."))
        if len(what_was_done.strip()) < 20:
            errors.append(
                FieldError("what_was_done", "Décrivez ce qui a été fait (20 caractères au moins).")
            )
        if cost is not None and cost < 0:
            errors.append(FieldError("cost", "Le coût ne peut être négatif."))
        if errors:
            raise DomainValidationError(errors)
        self.title = title.strip()
        self.context = context.strip()
        self.what_was_done = what_was_done.strip()
        self.lessons = lessons.strip()
        self.contacts = contacts.strip()
        self.cost = cost
        self.duration_days = duration_days
        self.status = ExperienceStatus.WRITTEN

    def consent(self, given: bool, now: datetime) -> bool:
        """The collectivité's answer; True when this publishes it."""
        if self.status is ExperienceStatus.DRAFT:
            raise Conflict("L'acteur n'a pas encore rédigé ce retour d'expérience.")
        if self.status is not ExperienceStatus.WRITTEN:
            raise Conflict("La collectivité a déjà répondu pour ce retour d'expérience.")
        if not given:
            self.status = ExperienceStatus.REFUSED
            return False
        self.status = ExperienceStatus.PUBLISHED
        self.published_at = now
        return True
