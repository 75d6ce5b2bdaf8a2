"""Events written by the matching service: the actor catalogue and the assignments."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import EventPayload
from shared.contracts.topics import MATCHING_ACTOR, MATCHING_ASSIGNMENT
from shared.contracts.vocabulary import Phase, RequesterKind, Theme


class NeedRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    theme: Theme
    phase: Phase


class TerritoryRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    departements: list[str] = Field(default_factory=list)
    epcis: list[str] = Field(default_factory=list)
    communes: list[str] = Field(default_factory=list)


class EligibilityRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_population: int | None = None
    max_population: int | None = None
    members_only: bool = False
    requester_kinds: list[RequesterKind] = Field(
        default_factory=lambda: [RequesterKind.COMMUNE, RequesterKind.EPCI]
    )


class CriteriaRef(BaseModel):
    """Each criterion's value in [0, 1] and the weighted score."""

    model_config = ConfigDict(frozen=True)

    coverage: float
    expertise: float
    load: float
    continuity: float
    locality: float
    score: float


class _ActorSnapshot(EventPayload):
    topic: ClassVar[str] = MATCHING_ACTOR.name
    producer: ClassVar[str] = MATCHING_ACTOR.writer

    actor_id: str
    departement: str
    name: str
    kind: str
    themes: dict[Theme, int] = Field(description="Theme → expertise level (1 notions … 3 expert).")
    phases: list[Phase]
    territory: TerritoryRef
    capacity: int
    eligibility: EligibilityRef
    active: bool
    version: int
    changed_at: AwareDatetime


class ActorRegistered(_ActorSnapshot):
    event_type: ClassVar[str] = "matching.actor.registered.v1"
    summary: ClassVar[str] = "An actor joined the offer of a département."


class ActorUpdated(_ActorSnapshot):
    event_type: ClassVar[str] = "matching.actor.updated.v1"
    summary: ClassVar[str] = "An actor's themes, territory, capacity or status changed."


class AssignmentEvent(EventPayload):
    """What every event of an assignment carries."""

    topic: ClassVar[str] = MATCHING_ASSIGNMENT.name
    producer: ClassVar[str] = MATCHING_ASSIGNMENT.writer

    assignment_id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    actor_name: str


class AssignmentProposed(AssignmentEvent):
    event_type: ClassVar[str] = "matching.assignment.proposed.v1"
    summary: ClassVar[str] = "An actor is proposed for some needs of a demande, with the reasons."

    requester_code: str
    actor_kind: str
    needs: list[NeedRef]
    lead: bool
    round: int = Field(ge=1, description="1 for the first proposal, +1 for each replacement.")
    criteria: CriteriaRef
    reasons: str
    uncovered_needs: list[NeedRef] = Field(default_factory=list)
    respond_by: AwareDatetime
    proposed_at: AwareDatetime
    routed_by: str | None = Field(
        default=None,
        description="The département agent who chose this actor by hand for a demande nobody "
        "covered (their reason is in `reasons`); absent when the matcher proposed it.",
    )


class AssignmentAccepted(AssignmentEvent):
    event_type: ClassVar[str] = "matching.assignment.accepted.v1"
    summary: ClassVar[str] = "The actor accepted: the mission starts."

    accepted_at: AwareDatetime
    # What billing needs to prepare the convention; optional for the events written before.
    lead: bool | None = None
    actor_kind: str | None = None
    requester_code: str | None = None
    requester_kind: RequesterKind | None = None
    needs: list[NeedRef] = Field(default_factory=list)


class AssignmentDeclined(AssignmentEvent):
    event_type: ClassVar[str] = "matching.assignment.declined.v1"
    summary: ClassVar[str] = "The actor declined; the next candidate is proposed."

    reason: str | None = None
    declined_at: AwareDatetime


class AssignmentExpired(AssignmentEvent):
    event_type: ClassVar[str] = "matching.assignment.expired.v1"
    summary: ClassVar[str] = "The actor did not answer in time; the next candidate is proposed."

    respond_by: AwareDatetime
    expired_at: AwareDatetime


class AssignmentCompleted(AssignmentEvent):
    event_type: ClassVar[str] = "matching.assignment.completed.v1"
    summary: ClassVar[str] = "The mission ended; the actor reported the days spent."

    actor_kind: str
    requester_code: str
    requester_kind: RequesterKind
    needs: list[NeedRef]
    days_spent: Decimal = Field(ge=0, max_digits=7, decimal_places=2)
    report: str | None = None
    started_at: AwareDatetime
    completed_at: AwareDatetime


class AssignmentCancelled(AssignmentEvent):
    event_type: ClassVar[str] = "matching.assignment.cancelled.v1"
    summary: ClassVar[str] = "A proposal or a mission was cancelled (the demande was withdrawn)."

    was_accepted: bool
    reason: str
    cancelled_at: AwareDatetime


# Why nobody is left for a demande, from the furthest any actor got through the filters
# for its uncovered needs (docs/events.md): nobody of the offer treats the theme in that
# phase; nobody of those reaches the collectivité's territory; population or kind rules;
# members-only actors and the collectivité holds no adhésion; every fitting actor is at
# capacity; every fitting actor already declined or let its proposal expire.
UnmatchedReason = Literal[
    "aucun_acteur", "territoire", "eligibilite", "adhesion_requise", "capacite", "refus"
]


class CandidateRef(BaseModel):
    """An actor that would have fitted a need, but for the reason of the event."""

    model_config = ConfigDict(frozen=True)

    actor_id: str
    actor_name: str
    actor_kind: str
    needs: list[NeedRef]


class RequestUnmatched(EventPayload):
    event_type: ClassVar[str] = "matching.request.unmatched.v1"
    topic: ClassVar[str] = MATCHING_ASSIGNMENT.name
    producer: ClassVar[str] = MATCHING_ASSIGNMENT.writer
    summary: ClassVar[str] = "No actor is left for a demande: the département team takes over."

    request_id: UUID
    departement: str
    requester_code: str
    uncovered_needs: list[NeedRef]
    reasons: list[str] = Field(description="Why each actor was set aside, in French.")
    summary_text: str
    unmatched_at: AwareDatetime
    reason: UnmatchedReason | None = Field(
        default=None, description="Why, as a code (absent from events before it existed)."
    )
    candidates: list[CandidateRef] = Field(
        default_factory=list,
        description="With adhesion_requise: the members-only actors that would have fitted.",
    )
