"""Who hears what.

Read ``WHO_HEARS_WHAT`` first: for each event this service consumes, which recipient
(by role) gets which message (its kind names the template). ``SCHEDULED`` lists the
messages that this service's own clock and dispatcher cause. Everything else here
turns an event and what the service knows into addressed messages.

Addresses come from the event and from this service's own tables (its projection of
the demandes, the actor contacts and team addresses managed over HTTP), never from
another service's database. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.notifications.domain.model import Kind, Role
from services.notifications.domain.wording import mission_context, need_labels
from shared.contracts.base import EventPayload
from shared.contracts.billing import InvoiceIssued, MembershipOffered
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.missions import DeliverableAdded, MilestoneDone, MissionReassigned
from shared.contracts.projects import ProjectDuplicateSuspected
from shared.contracts.requests import RequestSubmitted
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS
from shared.french import PARIS, euros, long_date, long_datetime, percent, rate_euros


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
}

# Every event type of the consumed topics may also go to webhook subscribers
# (``subscribers``); those without a rule above send no email.


@dataclass(frozen=True, slots=True)
class DemandeCard:
    """This service's projection of a demande: who to tell about it."""

    request_id: UUID
    departement: str
    requester_code: str
    requester_name: str
    contact_name: str
    contact_email: str
    title: str
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """What the service knows when an event arrives."""

    departement: str
    team_address: str
    demande: DemandeCard | None = None
    actor_address: str | None = None


class Unresolved(StrEnum):
    AWAITING_DEMANDE = "awaiting_demande"
    NO_ACTOR_CONTACT = "no_actor_contact"


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to one recipient; ``address`` is None while ``unresolved``."""

    kind: Kind
    role: Role
    # Stable name of the recipient, part of the notification id: "actor:caue49".
    recipient: str
    address: str | None
    context: dict[str, Any]
    unresolved: Unresolved | None = None
    request_id: UUID | None = None


def plan(payload: EventPayload, known: Known) -> list[Planned]:
    """The emails an event causes."""
    rules = WHO_HEARS_WHAT.get(payload.event_type, ())
    if not rules:
        return []
    context = event_context(payload, known)
    return [_addressed(rule, payload, known, context) for rule in rules]


def _addressed(rule: Rule, payload: EventPayload, known: Known, context: dict[str, Any]) -> Planned:
    request_id: UUID | None = getattr(payload, "request_id", None)
    match rule.role:
        case Role.REQUESTER if known.demande is not None:
            card = known.demande
            return Planned(
                rule.kind,
                Role.REQUESTER,
                f"requester:{card.request_id}",
                card.contact_email,
                context,
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


def demande_context(card: DemandeCard | None) -> dict[str, Any]:
    """What the templates say of the demande; filled in later for a message that waited."""
    return {
        "demande_titre": card.title if card else None,
        "collectivite": card.requester_name if card else None,
        "contact_nom": card.contact_name if card else None,
    }


def event_context(payload: EventPayload, known: Known) -> dict[str, Any]:
    """The facts of the event that the templates show, already written in French."""
    context: dict[str, Any] = {"departement": known.departement} | demande_context(known.demande)
    match payload:
        case RequestSubmitted():
            context |= {
                "demande_titre": payload.title,
                "collectivite": payload.requester.name,
                "contact_nom": payload.contact.name,
                "themes": [THEME_LABELS[t] for t in payload.themes],
                "phase": PHASE_LABELS[payload.phase],
                "soumise_le": long_datetime(payload.submitted_at),
            }
        case AssignmentProposed():
            context |= {
                "collectivite": context["collectivite"] or payload.requester_code,
                "acteur_nom": payload.actor_name,
                "besoins": need_labels(payload.needs),
                "raisons": payload.reasons,
                "pilote": payload.lead,
                "repondre_avant": long_datetime(payload.respond_by),
            }
        case AssignmentAccepted():
            context |= {
                "acteur_nom": payload.actor_name,
                "accepte_le": long_datetime(payload.accepted_at),
            }
        case AssignmentCompleted():
            context |= {
                "acteur_nom": payload.actor_name,
                "jours": str(payload.days_spent).replace(".", ","),
                "termine_le": long_datetime(payload.completed_at),
            }
        case AssignmentExpired():
            context |= {
                "acteur_nom": payload.actor_name,
                "repondre_avant": long_datetime(payload.respond_by),
            }
        case RequestUnmatched():
            context |= {
                "collectivite": context["collectivite"] or payload.requester_code,
                "besoins_non_couverts": need_labels(payload.uncovered_needs),
                "raisons": list(payload.reasons),
                "resume": payload.summary_text,
                "motif": UNMATCHED_REASONS.get(payload.reason or ""),
            }
        case MembershipOffered():
            context |= {
                "collectivite": payload.collectivite_name,
                "annee": payload.year,
                "offre": payload.tariff_label,
                "acteurs": list(payload.actor_names),
                "cotisation_ht": euros(payload.cotisation_excl_tax),
                "cotisation_ttc": euros(payload.cotisation_incl_tax),
                "tarifs": [
                    {
                        "acteur": rate.actor_label,
                        "unite": "par jour" if rate.unit == "day" else "forfait",
                        "adherent": rate_euros(rate.member),
                        "non_adherent": rate_euros(rate.non_member),
                    }
                    for rate in payload.mission_rates
                ],
            }
        case MilestoneDone() | DeliverableAdded() | MissionReassigned():
            context |= mission_context(payload)
        case ProjectDuplicateSuspected():
            context |= {
                "demande_titre": payload.title,
                "collectivite": payload.requester_name,
                "phase": PHASE_LABELS[payload.phase],
                "themes": [THEME_LABELS[t] for t in payload.themes],
                "candidats": [
                    {
                        "titre": c.title,
                        "deposee_le": long_date(c.submitted_at.astimezone(PARIS).date()),
                        "ressemblance": percent(Decimal(str(round(c.similarity, 2)))),
                    }
                    for c in payload.candidates
                ],
            }
        case InvoiceIssued():
            context |= {
                "collectivite": payload.collectivite_name,
                "numero": payload.number,
                "objet": "cotisation annuelle"
                if payload.invoice_kind == "cotisation"
                else "mission d'accompagnement",
                "annee": payload.year,
                "montant_ht": euros(payload.total_excl_tax),
                "montant_ttc": euros(payload.total_incl_tax),
                "emise_le": long_date(payload.issued_at.astimezone(PARIS).date()),
            }
    return context


# The codes of RequestUnmatched.reason, as the département's team reads them.
UNMATCHED_REASONS = {
    "aucun_acteur": "aucun acteur de l'offre ne traite ce thème dans cette phase",
    "territoire": "aucun acteur compétent n'intervient sur ce territoire",
    "eligibilite": "la collectivité est hors des critères (population, type) des acteurs",
    "adhesion_requise": "les acteurs compétents sont réservés aux adhérents ; "
    "l'offre d'adhésion a été adressée à la collectivité",
    "capacite": "les acteurs compétents ont atteint leur capacité",
    "refus": "les acteurs compétents ont décliné ou laissé expirer leur proposition",
}


# --- what the service's own clock causes ------------------------------------------------


def reminder_at(proposed_at: datetime, respond_by: datetime, lead: timedelta) -> datetime | None:
    """When to remind the actor; None when the deadline is too close to the proposal for a
    reminder to say anything the proposal did not."""
    at = respond_by - lead
    return at if at > proposed_at else None


def reminder(
    *,
    departement: str,
    request_id: UUID,
    actor_id: str,
    actor_name: str,
    respond_by: datetime,
    actor_address: str | None,
    demande: DemandeCard | None,
) -> Planned:
    return Planned(
        Kind.RAPPEL_REPONSE,
        Role.ACTOR,
        f"actor:{actor_id}",
        actor_address,
        {"departement": departement}
        | demande_context(demande)
        | {"acteur_nom": actor_name, "repondre_avant": long_datetime(respond_by)},
        None if actor_address else Unresolved.NO_ACTOR_CONTACT,
        request_id,
    )


def follow_up(card: DemandeCard, last_news_at: datetime) -> Planned:
    return Planned(
        Kind.OU_EN_ETES_VOUS,
        Role.REQUESTER,
        f"requester:{card.request_id}",
        card.contact_email,
        {"departement": card.departement}
        | demande_context(card)
        | {"derniere_nouvelle": long_date(last_news_at.astimezone(PARIS).date())},
        request_id=card.request_id,
    )


def tells_team_of_failure(kind: Kind) -> bool:
    # The notice of a failure that fails is not announced again: no loop.
    return kind is not Kind.LIVRAISON_EN_ECHEC


def dead_letter_notice(
    *,
    departement: str,
    team_address: str,
    failed_kind: Kind,
    failed_role: Role,
    channel: str,
    reason: str,
    attempts: int,
    source_event_type: str,
    source_event_id: str,
    subscription_id: UUID | None,
) -> Planned:
    return Planned(
        Kind.LIVRAISON_EN_ECHEC,
        Role.TEAM,
        f"team:{departement}",
        team_address,
        {
            "departement": departement,
            "canal": "courriel" if channel == "email" else "webhook",
            "nature": failed_kind.label,
            "destinataire": ROLE_LABELS[failed_role],
            "motif": reason,
            "tentatives": attempts,
            "evenement": source_event_type,
            "evenement_id": source_event_id,
            "abonnement": str(subscription_id) if subscription_id else None,
        },
    )


ROLE_LABELS: dict[Role, str] = {
    Role.REQUESTER: "le contact de la collectivité",
    Role.ACTOR: "l'acteur",
    Role.TEAM: "l'équipe du département",
    Role.SUBSCRIBER: "un système abonné",
}


def digest_recipient(address: str) -> str:
    return f"digest:{address}"


def digest_source(day: date) -> str:
    return f"digest:{day.isoformat()}"


def digest(address: str, role: Role, day: date, held: list[tuple[Kind, dict[str, Any]]]) -> Planned:
    """The day's one message gathering what ``address`` chose to receive once a day."""
    return Planned(
        Kind.RESUME_QUOTIDIEN,
        role,
        digest_recipient(address),
        address,
        {
            "date": long_date(day),
            "items": [{"kind": kind.value, "context": context} for kind, context in held],
        },
    )


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
