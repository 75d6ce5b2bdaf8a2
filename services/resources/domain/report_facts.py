"""The activity reports' projection: one fact per event that a report counts.

The facts are drawn from the events alone (and the official territories, for a commune's
EPCI), one per event id: the projection can be emptied and rebuilt by replaying the
topics from offset 0, and gives the same figures (``report_figures`` computes them from
the facts, whatever their order of arrival).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.contracts.base import EventPayload
from shared.contracts.billing import (
    AdhesionEnded,
    AdhesionRegistered,
    CreditNoteIssued,
    InvoiceIssued,
)
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.requests import RequestSubmitted, RequestSubmittedV2
from shared.contracts.resources import (
    AttendanceRecorded,
    RegistrationCancelled,
    RegistrationPromoted,
    RegistrationRecorded,
    RegistrationStatus,
    TrainingOffered,
)
from shared.refdata import Territories


class FactKind(StrEnum):
    DEMANDE = "demande"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    UNMATCHED = "unmatched"
    INVOICED = "invoiced"
    ADHESION = "adhesion"
    ADHESION_ENDED = "adhesion_ended"
    SESSION = "session"
    SEATS = "seats"
    PRESENT = "present"


@dataclass(frozen=True, slots=True)
class Fact:
    event_id: str
    kind: FactKind
    departement: str
    occurred_at: datetime
    # The demande, the assignment, the invoice or the session it is about.
    subject: str
    # The actor, or the collectivité.
    party: str = ""
    amount: Decimal = Decimal(0)
    data: dict[str, Any] = field(default_factory=dict)


def _epci_of(code: str, territories: Territories) -> str:
    commune = territories.commune(code)
    if commune is not None:
        return commune.epci_siren or ""
    return code if territories.epci(code) is not None else ""


def fact_of(event_id: str, payload: EventPayload, territories: Territories) -> Fact | None:
    """The fact an event gives, or None for an event the reports do not count."""
    # v1 (deprecated, still on the topic from before ADR 0020) and v2 count alike.
    if isinstance(payload, RequestSubmitted | RequestSubmittedV2):
        return _demande(event_id, payload, territories)
    make = _MAKERS.get(type(payload))
    return make(event_id, payload) if make is not None else None


def _demande(
    event_id: str, payload: RequestSubmitted | RequestSubmittedV2, territories: Territories
) -> Fact:
    return Fact(
        event_id,
        FactKind.DEMANDE,
        payload.departement,
        payload.submitted_at,
        str(payload.request_id),
        payload.requester.code,
        data={
            "themes": [t.value for t in payload.themes],
            "phase": payload.phase.value,
            "kind": payload.requester.kind.value,
            "population": payload.requester.population,
            "epci": _epci_of(payload.requester.code, territories),
        },
    )


def _unmatched(event_id: str, payload: Any) -> Fact:
    return Fact(
        event_id,
        FactKind.UNMATCHED,
        payload.departement,
        payload.unmatched_at,
        str(payload.request_id),
        payload.requester_code,
        data={"themes": _themes(payload.uncovered_needs)},
    )


def _invoiced(event_id: str, payload: Any) -> Fact:
    invoice = isinstance(payload, InvoiceIssued)
    return Fact(
        event_id,
        FactKind.INVOICED,
        payload.departement,
        payload.issued_at,
        str(payload.document_id),
        payload.collectivite_code,
        # Whatever the sign a credit note's total is written with, it takes its absolute
        # value back.
        amount=abs(payload.total_incl_tax) * (1 if invoice else -1),
        data={"kind": payload.invoice_kind if invoice else "avoir"},
    )


def _session(event_id: str, payload: Any) -> Fact:
    return Fact(
        event_id,
        FactKind.SESSION,
        payload.departement,
        payload.starts_at,
        str(payload.session_id),
        payload.actor_id,
        data={"seats": payload.seats, "themes": [t.value for t in payload.themes]},
    )


def _at(attribute: str, kind: FactKind) -> Callable[[str, Any], Fact]:
    def make(event_id: str, payload: Any) -> Fact:
        if kind in (FactKind.ADHESION, FactKind.ADHESION_ENDED):
            return _adhesion(event_id, kind, payload, getattr(payload, attribute))
        themes = _themes(payload.needs) if kind is FactKind.COMPLETED else None
        return _assignment(event_id, kind, payload, getattr(payload, attribute), themes)

    return make


def _themes(needs: list[Any]) -> list[str]:
    return list(dict.fromkeys(n.theme.value for n in needs))


def _assignment(
    event_id: str, kind: FactKind, payload: Any, at: datetime, themes: list[str] | None = None
) -> Fact:
    data = {"request_id": str(payload.request_id), "actor_name": payload.actor_name}
    return Fact(
        event_id,
        kind,
        payload.departement,
        at,
        str(payload.assignment_id),
        payload.actor_id,
        data=data | ({"themes": themes} if themes is not None else {}),
    )


def _adhesion(event_id: str, kind: FactKind, payload: Any, at: datetime) -> Fact:
    return Fact(
        event_id,
        kind,
        payload.departement,
        at,
        str(payload.adhesion_id),
        payload.collectivite_code,
        data={"year": payload.year},
    )


def _seats(event_id: str, payload: Any) -> Fact | None:
    """Participants holding seats: + when they get them, - when they give them back."""
    if isinstance(payload, RegistrationRecorded):
        if payload.status is not RegistrationStatus.REGISTERED:
            return None
        delta, at = payload.participants, payload.recorded_at
    elif isinstance(payload, RegistrationPromoted):
        delta, at = payload.participants, payload.promoted_at
    else:
        if payload.previous_status is not RegistrationStatus.REGISTERED:
            return None
        delta, at = -payload.participants, payload.cancelled_at
    return Fact(
        event_id,
        FactKind.SEATS,
        payload.departement,
        at,
        str(payload.session_id),
        payload.collectivite_code,
        amount=Decimal(delta),
    )


def _present(event_id: str, payload: Any) -> Fact:
    return Fact(
        event_id,
        FactKind.PRESENT,
        payload.departement,
        payload.recorded_at,
        str(payload.registration_id),
        payload.collectivite_code,
        amount=Decimal(payload.present),
        data={"session_id": str(payload.session_id)},
    )


_MAKERS: dict[type[EventPayload], Callable[[str, Any], Fact | None]] = {
    AssignmentProposed: _at("proposed_at", FactKind.PROPOSED),
    AssignmentAccepted: _at("accepted_at", FactKind.ACCEPTED),
    AssignmentDeclined: _at("declined_at", FactKind.DECLINED),
    AssignmentExpired: _at("expired_at", FactKind.EXPIRED),
    AssignmentCancelled: _at("cancelled_at", FactKind.CANCELLED),
    AssignmentCompleted: _at("completed_at", FactKind.COMPLETED),
    RequestUnmatched: _unmatched,
    InvoiceIssued: _invoiced,
    CreditNoteIssued: _invoiced,
    AdhesionRegistered: _at("registered_at", FactKind.ADHESION),
    AdhesionEnded: _at("ended_at", FactKind.ADHESION_ENDED),
    TrainingOffered: _session,
    RegistrationRecorded: _seats,
    RegistrationPromoted: _seats,
    RegistrationCancelled: _seats,
    AttendanceRecorded: _present,
}

# Every event type a report counts, in the order of their topics.
COUNTED_EVENTS: tuple[type[EventPayload], ...] = (RequestSubmitted, RequestSubmittedV2, *_MAKERS)
