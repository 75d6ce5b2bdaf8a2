"""Events written by the resources service: documentation sheets, trainings and their
registrations, retours d'expérience; and the vocabularies they carry.

Registrations carry how many participants, never their names: the names stay in the
resources database, with the collectivité that gave them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload
from shared.contracts.topics import (
    RESOURCES_EXPERIENCE,
    RESOURCES_SHEET,
    RESOURCES_SURVEY,
    RESOURCES_TRAINING,
)
from shared.contracts.vocabulary import Phase, Theme


class SheetKind(StrEnum):
    GUIDE = "guide"
    REGULATION = "regulation"
    MODEL = "model"
    FAQ = "faq"


SHEET_KIND_LABELS: dict[SheetKind, str] = {
    SheetKind.GUIDE: "Guide",
    SheetKind.REGULATION: "Réglementation",
    SheetKind.MODEL: "Modèle de document",
    SheetKind.FAQ: "Questions fréquentes",
}


class Audience(StrEnum):
    ELUS = "elus"
    AGENTS = "agents"


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class _SheetSnapshot(EventPayload):
    topic: ClassVar[str] = RESOURCES_SHEET.name
    producer: ClassVar[str] = RESOURCES_SHEET.writer

    sheet_id: UUID
    departement: str = Field(description="The département that owns the sheet (the key).")
    national: bool = Field(description="Shown to every département, not only its owner.")
    title: str
    abstract: str = Field(description="The sheet's summary (its body stays in the service).")
    kind: SheetKind
    themes: list[Theme]
    phases: list[Phase]
    author_actor_id: str | None = None
    review_on: date = Field(description="After this day the sheet is flagged « à revoir ».")
    version: int = Field(ge=1)
    changed_at: AwareDatetime


class SheetPublished(_SheetSnapshot):
    event_type: ClassVar[str] = "resources.sheet.published.v1"
    summary: ClassVar[str] = "A documentation sheet was published."


class SheetRevised(_SheetSnapshot):
    event_type: ClassVar[str] = "resources.sheet.revised.v1"
    summary: ClassVar[str] = "A documentation sheet was revised (new version)."


class TrainingOffered(EventPayload):
    event_type: ClassVar[str] = "resources.training.offered.v1"
    topic: ClassVar[str] = RESOURCES_TRAINING.name
    producer: ClassVar[str] = RESOURCES_TRAINING.writer
    summary: ClassVar[str] = "An actor offers a training session."

    session_id: UUID
    departement: str
    actor_id: str
    title: str
    themes: list[Theme]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    online: bool
    place: str | None = None
    seats: int = Field(ge=1)
    audience: list[Audience]
    price_member: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    price_non_member: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    offered_at: AwareDatetime


class _RegistrationEvent(EventPayload):
    topic: ClassVar[str] = RESOURCES_TRAINING.name
    producer: ClassVar[str] = RESOURCES_TRAINING.writer

    registration_id: UUID
    session_id: UUID
    departement: str
    collectivite_code: str
    participants: int = Field(ge=1, description="How many people; their names are not sent.")


class RegistrationRecorded(_RegistrationEvent):
    event_type: ClassVar[str] = "resources.registration.recorded.v1"
    summary: ClassVar[str] = "A collectivité registered participants: seats taken, or waiting list."

    status: RegistrationStatus
    recorded_at: AwareDatetime


class RegistrationPromoted(_RegistrationEvent):
    event_type: ClassVar[str] = "resources.registration.promoted.v1"
    summary: ClassVar[str] = "Seats freed: a waiting registration now holds its seats."

    promoted_at: AwareDatetime


class RegistrationCancelled(_RegistrationEvent):
    event_type: ClassVar[str] = "resources.registration.cancelled.v1"
    summary: ClassVar[str] = "A registration was cancelled; its seats go to the waiting list."

    previous_status: RegistrationStatus
    cancelled_at: AwareDatetime


class RegistrationReminderDue(_RegistrationEvent):
    event_type: ClassVar[str] = "resources.registration.reminder_due.v1"
    summary: ClassVar[str] = "A session starts in 7 days (or 1 day): remind the collectivité."

    days_before: Literal[7, 1]
    title: str
    starts_at: AwareDatetime
    online: bool
    place: str | None = None


class AttendanceRecorded(_RegistrationEvent):
    event_type: ClassVar[str] = "resources.registration.attended.v1"
    summary: ClassVar[str] = "The session's actor recorded who of the registration attended."

    present: int = Field(ge=0, description="How many of the participants attended.")
    recorded_at: AwareDatetime


class _ExperienceEvent(EventPayload):
    topic: ClassVar[str] = RESOURCES_EXPERIENCE.name
    producer: ClassVar[str] = RESOURCES_EXPERIENCE.writer

    experience_id: UUID
    assignment_id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    requester_code: str
    themes: list[Theme]


class ExperienceDrafted(_ExperienceEvent):
    event_type: ClassVar[str] = "resources.experience.drafted.v1"
    summary: ClassVar[str] = "A mission closed: the actor's retour d'expérience awaits its text."

    drafted_at: AwareDatetime


class ExperiencePublished(_ExperienceEvent):
    event_type: ClassVar[str] = "resources.experience.published.v1"
    summary: ClassVar[str] = "The collectivité consented: the retour d'expérience is searchable."

    title: str
    commune_population: int = Field(ge=0)
    published_at: AwareDatetime


class _SurveyEvent(EventPayload):
    topic: ClassVar[str] = RESOURCES_SURVEY.name
    producer: ClassVar[str] = RESOURCES_SURVEY.writer

    survey_id: UUID
    assignment_id: UUID
    departement: str
    actor_id: str
    actor_name: str
    requester_code: str


class SurveyDue(_SurveyEvent):
    event_type: ClassVar[str] = "resources.survey.due.v1"
    summary: ClassVar[str] = (
        "Ten days after a mission closed (or 7 more days without an answer: the reminder), "
        "the collectivité is asked for its satisfaction through a signed link."
    )

    reminder: bool = Field(description="False for the first request, True for the reminder.")
    link_path: str = Field(
        description="Path of the signed survey page on the resources service; it works once, "
        "without sign-in, until expires_at. Send it to the collectivité's contact only."
    )
    expires_at: AwareDatetime


class SurveyAnswered(_SurveyEvent):
    event_type: ClassVar[str] = "resources.survey.answered.v1"
    summary: ClassVar[str] = (
        "The collectivité answered the satisfaction survey (its comment stays in the service)."
    )

    themes: list[Theme]
    quality: int = Field(ge=1, le=5)
    delay: int = Field(ge=1, le=5)
    usefulness: int = Field(ge=1, le=5)
    would_recommend: bool
    answered_at: AwareDatetime


class ActorAlertRaised(EventPayload):
    event_type: ClassVar[str] = "resources.survey.actor_alert.v1"
    topic: ClassVar[str] = RESOURCES_SURVEY.name
    producer: ClassVar[str] = RESOURCES_SURVEY.writer
    summary: ClassVar[str] = (
        "An actor declined or let expire too large a share of its proposals this quarter: "
        "the département's team is told, once per quarter."
    )

    departement: str
    actor_id: str
    actor_name: str
    quarter: str = Field(pattern=r"^[0-9]{4}-T[1-4]$", description="2027-T1 … 2027-T4.")
    proposals: int = Field(ge=1)
    refused: int = Field(ge=0, description="Proposals declined or expired.")
    rate: Decimal = Field(ge=0, le=1)
    threshold: Decimal = Field(gt=0, le=1)
    raised_at: AwareDatetime
