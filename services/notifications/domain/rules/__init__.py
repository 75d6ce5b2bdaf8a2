"""Who hears what.

Read ``WHO_HEARS_WHAT`` first: for each event this service consumes, which recipient
(by role) gets which message (its kind names the template). ``SCHEDULED`` lists the
messages that this service's own clock and dispatcher cause. Everything else here
turns an event and what the service knows into addressed messages; what the messages
say is written by one module per aggregate (``demandes``, ``conventions``, ``missions``),
the service's own messages by ``notices``.

Addresses come from the event and from this service's own tables (its projection of
the demandes, the actor contacts and team addresses managed over HTTP), never from
another service's database. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.notifications.domain.model import Kind, Role
from services.notifications.domain.rules import conventions, demandes, missions
from services.notifications.domain.rules.addressing import (
    DemandeCard,
    Known,
    Planned,
    RequesterContact,
    Unresolved,
    awaiting_contact,
    demande_context,
)
from services.notifications.domain.rules.conventions import (
    convention_reminder,
    convention_reminder_at,
)
from services.notifications.domain.rules.demandes import follow_up, reminder, reminder_at
from services.notifications.domain.rules.notices import (
    dead_letter_notice,
    digest,
    digest_recipient,
    digest_source,
    tells_team_of_failure,
)
from shared.contracts.base import EventPayload
from shared.contracts.billing import InvoiceIssued, MembershipOffered
from shared.contracts.conventions import ConventionEvent, ConventionExpired, ConventionSent
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.missions import DeliverableAdded, MilestoneDone, MissionReassigned
from shared.contracts.projects import ProjectDuplicateSuspected
from shared.contracts.requests import RequestSubmitted, RequestSubmittedV2

# What the rest of the service reads of the rules, whichever module writes it.
__all__ = [
    "SCHEDULED",
    "WHO_HEARS_WHAT",
    "DemandeCard",
    "Known",
    "Planned",
    "RequesterContact",
    "Subscription",
    "Unresolved",
    "convention_reminder",
    "convention_reminder_at",
    "dead_letter_notice",
    "demande_context",
    "digest",
    "digest_recipient",
    "digest_source",
    "follow_up",
    "plan",
    "reminder",
    "reminder_at",
    "request_id_of",
    "subscribers",
    "tells_team_of_failure",
]


class IfUnknown(StrEnum):
    """What to do when the requester's contact is not known (yet)."""

    # Wait for the demande: the matching event may overtake the requests event.
    AWAIT = "await"
    # Tell the département team instead, when no demande is concerned (a cotisation of a
    # collectivité that never asked for help).
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class Rule:
    role: Role
    kind: Kind
    if_unknown: IfUnknown = IfUnknown.AWAIT


WHO_HEARS_WHAT: dict[str, tuple[Rule, ...]] = {
    RequestSubmitted.event_type: (Rule(Role.REQUESTER, Kind.DEMANDE_RECUE),),
    RequestSubmittedV2.event_type: (Rule(Role.REQUESTER, Kind.DEMANDE_RECUE),),
    AssignmentProposed.event_type: (
        Rule(Role.REQUESTER, Kind.ACTEUR_PROPOSE),
        Rule(Role.ACTOR, Kind.NOUVELLE_PROPOSITION),
    ),
    AssignmentAccepted.event_type: (Rule(Role.REQUESTER, Kind.MISSION_ACCEPTEE),),
    AssignmentCompleted.event_type: (Rule(Role.REQUESTER, Kind.MISSION_TERMINEE),),
    InvoiceIssued.event_type: (Rule(Role.REQUESTER, Kind.FACTURE_EMISE, IfUnknown.TEAM),),
    RequestUnmatched.event_type: (Rule(Role.TEAM, Kind.DEMANDE_SANS_ACTEUR),),
    # Billing's answer to an unmatched "adhesion_requise": the offer, to the requester.
    MembershipOffered.event_type: (Rule(Role.REQUESTER, Kind.OFFRE_ADHESION),),
    AssignmentExpired.event_type: (Rule(Role.TEAM, Kind.PROPOSITION_EXPIREE),),
    ConventionSent.event_type: (Rule(Role.REQUESTER, Kind.CONVENTION_A_SIGNER),),
    # The reminder "at expiry": the collectivité and the actor, whose mission is released.
    ConventionExpired.event_type: (
        Rule(Role.REQUESTER, Kind.CONVENTION_EXPIREE),
        Rule(Role.ACTOR, Kind.CONVENTION_EXPIREE),
    ),
    MilestoneDone.event_type: (Rule(Role.REQUESTER, Kind.JALON_REMIS),),
    DeliverableAdded.event_type: (Rule(Role.REQUESTER, Kind.LIVRABLE_AJOUTE),),
    MissionReassigned.event_type: (
        Rule(Role.REQUESTER, Kind.MISSION_REAFFECTEE),
        Rule(Role.ACTOR, Kind.MISSION_REAFFECTEE),
        Rule(Role.TEAM, Kind.MISSION_REAFFECTEE),
    ),
    ProjectDuplicateSuspected.event_type: (Rule(Role.TEAM, Kind.DOUBLON_PRESUME),),
}

SCHEDULED: dict[Kind, tuple[Role, str]] = {
    Kind.RAPPEL_REPONSE: (Role.ACTOR, "N hours before the proposal's respond_by"),
    Kind.OU_EN_ETES_VOUS: (Role.REQUESTER, "after a period without news of the demande"),
    Kind.LIVRAISON_EN_ECHEC: (Role.TEAM, "a delivery was dead-lettered"),
    Kind.RESUME_QUOTIDIEN: (Role.REQUESTER, "once a day, to whoever chose the digest"),
    Kind.RAPPEL_CONVENTION: (Role.REQUESTER, "7 days before an unsigned convention expires"),
}

# Every event type of the consumed topics may also go to webhook subscribers
# (``subscribers``); those without a rule above send no email.


def plan(payload: EventPayload, known: Known) -> list[Planned]:
    """The emails an event causes."""
    rules = WHO_HEARS_WHAT.get(payload.event_type, ())
    if not rules:
        return []
    context = event_context(payload, known)
    return [_addressed(rule, payload, known, context) for rule in rules]


def request_id_of(payload: EventPayload) -> UUID | None:
    """The demande an event concerns (a convention names it ``demande_id``)."""
    if isinstance(payload, ConventionEvent):
        return payload.demande_id
    found: UUID | None = getattr(payload, "request_id", None)
    return found


def _addressed(rule: Rule, payload: EventPayload, known: Known, context: dict[str, Any]) -> Planned:
    request_id = request_id_of(payload)
    match rule.role:
        case Role.REQUESTER if known.demande is not None:
            card = known.demande
            return Planned(
                rule.kind,
                Role.REQUESTER,
                f"requester:{card.request_id}",
                card.contact_email,
                context,
                awaiting_contact(card),
                request_id=card.request_id,
            )
        # Only what concerns no demande (an annual cotisation) falls back to the team; an
        # invoice of a mission waits for its demande, whose contact is the one to tell.
        case Role.REQUESTER if request_id is None:
            return _to_team(rule.kind, known, context)
        case Role.REQUESTER:
            return Planned(
                rule.kind,
                Role.REQUESTER,
                f"requester:{request_id}",
                None,
                context,
                Unresolved.AWAITING_DEMANDE,
                request_id,
            )
        case Role.ACTOR:
            actor_id: str = getattr(payload, "actor_id", "")
            return Planned(
                rule.kind,
                Role.ACTOR,
                f"actor:{actor_id}",
                known.actor_address,
                context,
                None if known.actor_address else Unresolved.NO_ACTOR_CONTACT,
                request_id,
            )
        case _:
            return _to_team(rule.kind, known, context, request_id)


def _to_team(
    kind: Kind, known: Known, context: dict[str, Any], request_id: UUID | None = None
) -> Planned:
    return Planned(
        kind,
        Role.TEAM,
        f"team:{known.departement}",
        known.team_address,
        context,
        request_id=request_id,
    )


def event_context(payload: EventPayload, known: Known) -> dict[str, Any]:
    """The facts of the event that the templates show, already written in French."""
    context: dict[str, Any] = {"departement": known.departement} | demande_context(known.demande)
    match payload:
        case ConventionSent() | ConventionExpired():
            return context | conventions.facts(payload)
        case MilestoneDone() | DeliverableAdded() | MissionReassigned():
            return context | missions.facts(payload)
    return context | demandes.facts(payload, context)


# --- other systems ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    id: UUID
    departement: str | None  # None: every département (an administrator's subscription)
    event_types: frozenset[str]
    active: bool = True


def subscribers(
    subscriptions: list[Subscription], event_type: str, departement: str
) -> list[Subscription]:
    """The webhook subscriptions that receive an event."""
    return [
        s
        for s in subscriptions
        if s.active
        and event_type in s.event_types
        and (s.departement is None or s.departement == departement)
    ]
