"""Events written by the requests service, and the command it accepts by event."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from shared.contracts.base import EventPayload, Line, Text
from shared.contracts.topics import REQUESTS_COMMAND, REQUESTS_CONTACT, REQUESTS_REQUEST
from shared.contracts.vocabulary import Phase, RequesterKind, Theme

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_BUDGET = Decimal("1000000000")


class Contact(BaseModel):
    """The person to keep informed. Personal data: never logged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Line = Field(min_length=2, max_length=120)
    email: EmailStr
    phone: str | None = Field(default=None, max_length=30, pattern=r"^\+?[0-9 .()-]{6,30}$")
    role: Line | None = Field(default=None, max_length=120)


class RequestDraft(BaseModel):
    """What a collectivité asks for: the body of a submission, by HTTP or by command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requester_code: str = Field(
        min_length=5,
        max_length=9,
        description="INSEE code of a commune (5 characters) or SIREN of an EPCI (9 digits).",
    )
    contact: Contact
    title: Line = Field(min_length=5, max_length=MAX_TITLE)
    description: Text = Field(min_length=10, max_length=MAX_DESCRIPTION)
    themes: list[Theme] = Field(min_length=1, max_length=6)
    phase: Phase
    estimated_budget: Decimal | None = Field(
        default=None, ge=0, le=MAX_BUDGET, max_digits=14, decimal_places=2
    )
    wished_start: date | None = None
    wished_end: date | None = None


class SubmitRequestCommand(RequestDraft, EventPayload):
    """A département system submits a demande by event; the same rules as over HTTP apply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str] = "requests.command.submit-request.v1"
    topic: ClassVar[str] = REQUESTS_COMMAND.name
    producer: ClassVar[str] = REQUESTS_COMMAND.writer
    summary: ClassVar[str] = "Submit a demande on behalf of a collectivité."
    personal_data: ClassVar[bool] = True

    request_id: UUID = Field(
        description="Chosen by the sender; submitting the same id twice creates one demande."
    )


class OpenNextPhaseCommand(EventPayload):
    """A département system opens the next phase of a project whose phase is completed;
    the same rules as ``POST /v1/requests/{id}/next-phase`` by the département's team."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str] = "requests.command.open-next-phase.v1"
    topic: ClassVar[str] = REQUESTS_COMMAND.name
    producer: ClassVar[str] = REQUESTS_COMMAND.writer
    summary: ClassVar[str] = "Open the next phase of a project whose phase is completed."

    request_id: UUID = Field(description="The demande of the completed phase.")
    new_request_id: UUID = Field(
        description="Chosen by the sender: the demande of the next phase; sending the same "
        "command twice opens one phase."
    )
    phase: Phase | None = Field(default=None, description="By default the phase that follows.")
    title: Line | None = Field(default=None, min_length=5, max_length=MAX_TITLE)
    description: Text | None = Field(default=None, min_length=10, max_length=MAX_DESCRIPTION)
    themes: list[Theme] | None = Field(default=None, min_length=1, max_length=6)
    deliverables: list[Line] = Field(default_factory=list, max_length=100)


class Requester(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: RequesterKind
    code: str
    name: str
    population: int = Field(ge=0)


class RequestSubmitted(EventPayload):
    """Deprecated (ADR 0020): carried the contact's personal data on a shared topic. No
    longer written; consumers still read those already on the topic."""

    summary: ClassVar[str] = (
        "Deprecated, no longer written (see requests.request.submitted.v2): a demande was "
        "accepted and stored."
    )
    event_type: ClassVar[str] = "requests.request.submitted.v1"
    topic: ClassVar[str] = REQUESTS_REQUEST.name
    producer: ClassVar[str] = REQUESTS_REQUEST.writer
    personal_data: ClassVar[bool] = True

    request_id: UUID
    departement: str
    requester: Requester
    contact: Contact
    title: str
    description: str
    themes: list[Theme]
    phase: Phase
    estimated_budget: Decimal | None = None
    wished_start: date | None = None
    wished_end: date | None = None
    channel: Literal["api", "event"]
    submitted_at: AwareDatetime


class RequestSubmittedV2(EventPayload):
    """v1 without the contact: the shared topic carries the contact's id, and the person
    travels only on the restricted ``requests.contact.v1`` (ADR 0020)."""

    summary: ClassVar[str] = (
        "A demande was accepted and stored; its contact is recorded on requests.contact.v1."
    )
    event_type: ClassVar[str] = "requests.request.submitted.v2"
    topic: ClassVar[str] = REQUESTS_REQUEST.name
    producer: ClassVar[str] = REQUESTS_REQUEST.writer

    request_id: UUID
    departement: str
    requester: Requester
    contact_id: UUID = Field(
        description="The contact of this demande, recorded by requests.contact.recorded.v1."
    )
    title: str
    description: str
    themes: list[Theme]
    phase: Phase
    estimated_budget: Decimal | None = None
    wished_start: date | None = None
    wished_end: date | None = None
    channel: Literal["api", "event"]
    submitted_at: AwareDatetime


class ContactRecorded(EventPayload):
    """The person to keep informed about a demande. Personal data: restricted topic, keyed
    by ``contact_id`` (compacted: its erasure will be a tombstone), never logged."""

    summary: ClassVar[str] = "The contact of a demande, for the services that write to them."
    event_type: ClassVar[str] = "requests.contact.recorded.v1"
    topic: ClassVar[str] = REQUESTS_CONTACT.name
    producer: ClassVar[str] = REQUESTS_CONTACT.writer
    personal_data: ClassVar[bool] = True

    contact_id: UUID
    departement: str
    request_id: UUID = Field(description="The demande whose submission gave this contact.")
    name: str
    email: str
    phone: str | None = None
    role: str | None = None
    recorded_at: AwareDatetime


class RequestWithdrawn(EventPayload):
    summary: ClassVar[str] = "The requester withdrew a demande."
    event_type: ClassVar[str] = "requests.request.withdrawn.v1"
    topic: ClassVar[str] = REQUESTS_REQUEST.name
    producer: ClassVar[str] = REQUESTS_REQUEST.writer

    request_id: UUID
    departement: str
    requester_code: str
    reason: str | None = None
    withdrawn_at: AwareDatetime
