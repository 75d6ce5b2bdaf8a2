"""One valid event of each kind the services exchange, for any test, and the Kafka record a
producing service would write for it. A test names what it is about (ids, département,
requester, days…); the rest is a plausible demande of Angers (49) and its mission."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from shared.contracts.base import EventPayload
from shared.contracts.billing import AdhesionRegistered, InvoiceIssued, LineRef
from shared.contracts.conventions import ConventionEvent
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
    CriteriaRef,
    NeedRef,
    RequestUnmatched,
)
from shared.contracts.missions import DeliverableAdded, DeliverableRef
from shared.contracts.projects import DuplicateCandidate, ProjectDuplicateSuspected
from shared.contracts.requests import (
    Contact,
    ContactRecorded,
    Requester,
    RequestSubmitted,
    RequestSubmittedV2,
)
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.messaging.envelope import Envelope
from shared.refdata.territories import Commune

NEED = NeedRef(theme=Theme.BATIMENTS_PUBLICS, phase=Phase.FAISABILITE)
ANGERS = Requester(kind=RequesterKind.COMMUNE, code="49007", name="Angers", population=157175)

Raw = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]
ConventionT = TypeVar("ConventionT", bound=ConventionEvent)


def commune_requester(commune: Commune) -> Requester:
    return Requester(
        kind=RequesterKind.COMMUNE,
        code=commune.code_insee,
        name=commune.nom,
        population=commune.population,
    )


def request_submitted(**overrides: object) -> RequestSubmitted:
    values: dict[str, object] = {
        "request_id": uuid.uuid4(),
        "departement": "49",
        "requester": ANGERS,
        "contact": Contact(name="Marie Dupont", email="marie.dupont@example.fr"),
        "title": "Réhabilitation de la salle des fêtes",
        "description": "Diagnostic et programme de travaux.",
        "themes": [NEED.theme],
        "phase": NEED.phase,
        "channel": "api",
        "submitted_at": datetime.now(UTC),
    }
    return RequestSubmitted.model_validate(values | overrides)


def request_submitted_v2(**overrides: object) -> RequestSubmittedV2:
    """The same demande as ``request_submitted``, its contact named by id (ADR 0020)."""
    values = request_submitted().model_dump(exclude={"contact"}) | {"contact_id": uuid.uuid4()}
    return RequestSubmittedV2.model_validate(values | overrides)


def contact_recorded(**overrides: object) -> ContactRecorded:
    values: dict[str, object] = {
        "contact_id": uuid.uuid4(),
        "departement": "49",
        "request_id": uuid.uuid4(),
        "name": "Marie Dupont",
        "email": "marie.dupont@example.fr",
        "recorded_at": datetime.now(UTC),
    }
    return ContactRecorded.model_validate(values | overrides)


def _assignment(overrides: dict[str, object]) -> dict[str, object]:
    """What every assignment event says: which, for which demande, by whom."""
    values: dict[str, object] = {
        "assignment_id": uuid.uuid4(),
        "request_id": uuid.uuid4(),
        "departement": "49",
        "actor_id": "caue49",
        "actor_name": "CAUE de Maine-et-Loire",
    }
    return values | overrides


def assignment_proposed(**overrides: object) -> AssignmentProposed:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "requester_code": ANGERS.code,
        "actor_kind": "caue",
        "needs": [NEED],
        "lead": True,
        "round": 1,
        "criteria": CriteriaRef(
            coverage=1, expertise=1, load=1, continuity=0, locality=1, score=0.9
        ),
        "reasons": "Couvre 1 besoin sur 1.",
        "respond_by": now + timedelta(days=7),
        "proposed_at": now,
    }
    return AssignmentProposed.model_validate(_assignment(values | overrides))


def assignment_accepted(**overrides: object) -> AssignmentAccepted:
    """A lead actor's acceptance, with what billing prepares the convention from."""
    values: dict[str, object] = {
        "accepted_at": datetime.now(UTC),
        "lead": True,
        "actor_kind": "caue",
        "requester_code": ANGERS.code,
        "requester_kind": RequesterKind.COMMUNE,
        "needs": [NEED],
    }
    return AssignmentAccepted.model_validate(_assignment(values | overrides))


def accepted_before(completed: AssignmentCompleted, **overrides: object) -> AssignmentAccepted:
    """The lead actor's acceptance that started the mission ``completed`` ends."""
    same = completed.model_dump(
        include={
            "assignment_id",
            "request_id",
            "departement",
            "actor_id",
            "actor_name",
            "actor_kind",
            "requester_code",
            "requester_kind",
            "needs",
        }
    )
    return assignment_accepted(**(same | {"accepted_at": completed.started_at} | overrides))


def assignment_declined(**overrides: object) -> AssignmentDeclined:
    values: dict[str, object] = {"declined_at": datetime.now(UTC)}
    return AssignmentDeclined.model_validate(_assignment(values | overrides))


def assignment_expired(**overrides: object) -> AssignmentExpired:
    now = datetime.now(UTC)
    values: dict[str, object] = {"respond_by": now, "expired_at": now}
    return AssignmentExpired.model_validate(_assignment(values | overrides))


def assignment_completed(**overrides: object) -> AssignmentCompleted:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "actor_kind": "caue",
        "requester_code": ANGERS.code,
        "requester_kind": RequesterKind.COMMUNE,
        "needs": [NEED],
        "days_spent": Decimal("3.5"),
        "started_at": now,
        "completed_at": now,
    }
    return AssignmentCompleted.model_validate(_assignment(values | overrides))


def deliverable_added(**overrides: object) -> DeliverableAdded:
    """A deliverable of the mission, as matching announces it (without the bytes)."""
    deliverable_id = uuid.uuid4()
    values: dict[str, object] = {
        "requester_code": ANGERS.code,
        "milestone_id": uuid.uuid4(),
        "milestone_title": "Étude de faisabilité remise",
        "deliverable": DeliverableRef(
            deliverable_id=deliverable_id,
            name="etude-faisabilite.pdf",
            content_type="application/pdf",
            size=1234,
            sha256="0" * 64,
            download_url=f"https://matching.example.fr/v1/deliverables/{deliverable_id}/content",
        ),
        "added_at": datetime.now(UTC),
    }
    return DeliverableAdded.model_validate(_assignment(values | overrides))


def request_unmatched(**overrides: object) -> RequestUnmatched:
    values: dict[str, object] = {
        "request_id": uuid.uuid4(),
        "departement": "49",
        "requester_code": ANGERS.code,
        "uncovered_needs": [NEED],
        "reasons": ["caue49 : capacité atteinte"],
        "summary_text": "Aucun acteur disponible.",
        "unmatched_at": datetime.now(UTC),
    }
    return RequestUnmatched.model_validate(values | overrides)


def adhesion_registered(**overrides: object) -> AdhesionRegistered:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "adhesion_id": uuid.uuid4(),
        "departement": "49",
        "year": now.year,
        "collectivite_code": ANGERS.code,
        "collectivite_kind": RequesterKind.COMMUNE,
        "collectivite_name": ANGERS.name,
        "population": ANGERS.population,
        "registered_at": now,
    }
    return AdhesionRegistered.model_validate(values | overrides)


def mission_invoice(**overrides: object) -> InvoiceIssued:
    """A mission of 3.5 days at 350 € a day, no VAT: 1,225.00 €."""
    amount = Decimal("1225.00")
    line = LineRef(
        kind="mission",
        label="Mission d'accompagnement",
        quantity=Decimal("3.5"),
        unit="jour",
        unit_price=Decimal("350"),
        amount_excl_tax=amount,
        vat_rate=Decimal("0"),
        vat_amount=Decimal("0"),
        amount_incl_tax=amount,
    )
    values: dict[str, object] = {
        "document_id": uuid.uuid4(),
        "number": "49-2027-000042",
        "departement": "49",
        "year": 2027,
        "collectivite_code": ANGERS.code,
        "collectivite_kind": RequesterKind.COMMUNE,
        "collectivite_name": ANGERS.name,
        "lines": [line],
        "total_excl_tax": amount,
        "total_vat": Decimal("0"),
        "total_incl_tax": amount,
        "issued_at": datetime.now(UTC),
        "invoice_kind": "mission",
        "tariff_version": 1,
        "request_id": uuid.uuid4(),
        "assignment_id": uuid.uuid4(),
    }
    return InvoiceIssued.model_validate(values | overrides)


def convention_event(model: type[ConventionT], **overrides: object) -> ConventionT:
    """An event of the convention of a mission of Angers (1,700.00 €, no VAT, valid 90
    days); ``overrides`` give the event's own fields (``sent_at``, ``expired_at``…)."""
    amount = Decimal("1700.00")
    values: dict[str, object] = {
        "convention_id": uuid.uuid4(),
        "number": "CONV-49-2027-000001",
        "version": 0,
        "departement": "49",
        "demande_id": uuid.uuid4(),
        "assignment_id": uuid.uuid4(),
        "actor_id": "caue49",
        "collectivite_kind": RequesterKind.COMMUNE,
        "collectivite_code": ANGERS.code,
        "collectivite_name": ANGERS.name,
        "total_excl_tax": amount,
        "total_vat": Decimal("0.00"),
        "total_incl_tax": amount,
        "valid_until": datetime.now(UTC) + timedelta(days=90),
    }
    return model.model_validate(values | overrides)


def duplicate_suspected(
    detected_at: datetime | None = None, **overrides: object
) -> ProjectDuplicateSuspected:
    """A demande of Angers that looks like one submitted (at ``detected_at`` too) before it,
    80 % alike."""
    now = detected_at or datetime.now(UTC)
    values: dict[str, object] = {
        "demande_id": uuid.uuid4(),
        "project_id": uuid.uuid4(),
        "departement": "49",
        "requester_code": ANGERS.code,
        "requester_name": ANGERS.name,
        "title": "Rénovation énergétique - école Jules-Ferry",
        "themes": [Theme.ENERGIE],
        "phase": Phase.FAISABILITE,
        "candidates": [
            DuplicateCandidate(
                demande_id=uuid.uuid4(),
                project_id=uuid.uuid4(),
                title="Rénovation énergétique de l'école Jules Ferry",
                submitted_at=now,
                similarity=0.8,
            )
        ],
        "detected_at": now,
    }
    return ProjectDuplicateSuspected.model_validate(values | overrides)


def envelope_of(payload: EventPayload, departement: str | None = None) -> Envelope:
    """The envelope its producer gives ``payload``."""
    departement = departement or str(payload.departement)
    return Envelope(type=payload.event_type, source=payload.producer, departement=departement)


def kafka_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in envelope.to_headers().items()]


def as_record(payload: EventPayload, envelope: Envelope | None = None) -> tuple[Envelope, Raw]:
    """The record its producer writes for ``payload``: keyed by its département (the
    envelope's), the envelope in the headers."""
    envelope = envelope or envelope_of(payload)
    record: Raw = (
        envelope.departement.encode(),
        payload.model_dump_json().encode(),
        kafka_headers(envelope),
    )
    return envelope, record
