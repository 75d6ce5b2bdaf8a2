"""What the messages of a demande's course say (submitted, proposed to actors, accepted,
completed, invoiced, left without an actor, the membership offered instead, flagged as
looking like another demande), and the messages its clock causes: the actor's reminder
before a proposal's deadline, the collectivité's "où en êtes-vous ?"."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.notifications.domain.model import Kind, Role
from services.notifications.domain.rules.addressing import (
    DemandeCard,
    Planned,
    Unresolved,
    awaiting_contact,
    demande_context,
)
from services.notifications.domain.wording import need_labels
from shared.contracts.base import EventPayload
from shared.contracts.billing import InvoiceIssued, MembershipOffered
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.projects import ProjectDuplicateSuspected
from shared.contracts.requests import RequestSubmitted, RequestSubmittedV2
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS
from shared.french import PARIS, euros, long_date, long_datetime, percent, rate_euros


def facts(payload: EventPayload, context: dict[str, Any]) -> dict[str, Any]:
    """The facts of a demande's event, written in French; ``context`` is what is already
    known of the demande (its collectivité's name may not be yet)."""
    found: dict[str, Any] = {}
    match payload:
        case RequestSubmitted() | RequestSubmittedV2():
            found = {
                "demande_titre": payload.title,
                "collectivite": payload.requester.name,
                # v2 names no one: the contact from the restricted topic, if it came first,
                # else filled in when it comes (ADR 0020).
                "contact_nom": payload.contact.name
                if isinstance(payload, RequestSubmitted)
                else context["contact_nom"],
                "themes": [THEME_LABELS[t] for t in payload.themes],
                "phase": PHASE_LABELS[payload.phase],
                "soumise_le": long_datetime(payload.submitted_at),
            }
        case AssignmentProposed():
            found = {
                "collectivite": context["collectivite"] or payload.requester_code,
                "acteur_nom": payload.actor_name,
                "besoins": need_labels(payload.needs),
                "raisons": payload.reasons,
                "pilote": payload.lead,
                "repondre_avant": long_datetime(payload.respond_by),
            }
        case AssignmentAccepted():
            found = {
                "acteur_nom": payload.actor_name,
                "accepte_le": long_datetime(payload.accepted_at),
            }
        case AssignmentCompleted():
            found = {
                "acteur_nom": payload.actor_name,
                "jours": str(payload.days_spent).replace(".", ","),
                "termine_le": long_datetime(payload.completed_at),
            }
        case AssignmentExpired():
            found = {
                "acteur_nom": payload.actor_name,
                "repondre_avant": long_datetime(payload.respond_by),
            }
        case RequestUnmatched():
            found = {
                "collectivite": context["collectivite"] or payload.requester_code,
                "besoins_non_couverts": need_labels(payload.uncovered_needs),
                "raisons": list(payload.reasons),
                "resume": payload.summary_text,
                "motif": UNMATCHED_REASONS.get(payload.reason or ""),
            }
        case MembershipOffered():
            found = {
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
        case ProjectDuplicateSuspected():
            found = {
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
            found = {
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
    return found


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
        awaiting_contact(card),
        request_id=card.request_id,
    )
