"""Events and what the service already knows, as the notifications rules see them: the
builders shared by the rule tests and the use-case tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from services.notifications.domain import rules
from services.notifications.domain.model import (
    Kind,
    Role,
)
from services.notifications.domain.rules import DemandeCard, Known
from shared.contracts.billing import InvoiceIssued, LineRef
from shared.contracts.matching import (
    AssignmentProposed,
    CriteriaRef,
    NeedRef,
)
from shared.contracts.requests import Contact, Requester, RequestSubmitted
from shared.contracts.vocabulary import Phase, RequesterKind, Theme

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
REQUEST = uuid.UUID("5f0e2c9a-8c61-4a53-b0a3-0a7d6a3c1e52")
ASSIGNMENT = uuid.UUID("8c1d0000-0000-4000-8000-000000000001")
TEAM = "equipe-49@departement.example.fr"
CARD = DemandeCard(
    request_id=REQUEST,
    departement="49",
    requester_code="49007",
    requester_name="Angers",
    contact_name="Marie Dupont",
    contact_email="marie.dupont@example.fr",
    title="Réhabilitation de la salle des fêtes",
)
NEED = NeedRef(theme=Theme.BATIMENTS_PUBLICS, phase=Phase.FAISABILITE)


def submitted() -> RequestSubmitted:
    return RequestSubmitted(
        request_id=REQUEST,
        departement="49",
        requester=Requester(kind=RequesterKind.COMMUNE, code="49007", name="Angers", population=1),
        contact=Contact(name="Marie Dupont", email="marie.dupont@example.fr"),
        title="Réhabilitation de la salle des fêtes",
        description="Diagnostic et programme de travaux.",
        themes=[Theme.BATIMENTS_PUBLICS],
        phase=Phase.FAISABILITE,
        channel="api",
        submitted_at=NOW,
    )


def proposed(**overrides: object) -> AssignmentProposed:
    values: dict[str, object] = {
        "assignment_id": ASSIGNMENT,
        "request_id": REQUEST,
        "departement": "49",
        "actor_id": "caue49",
        "actor_name": "CAUE de Maine-et-Loire",
        "requester_code": "49007",
        "actor_kind": "caue",
        "needs": [NEED],
        "lead": True,
        "round": 1,
        "criteria": CriteriaRef(
            coverage=1, expertise=1, load=1, continuity=0, locality=1, score=0.9
        ),
        "reasons": "Couvre 1 besoin sur 1.",
        "respond_by": datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        "proposed_at": NOW,
    }
    return AssignmentProposed.model_validate(values | overrides)


def invoice(request_id: uuid.UUID | None = REQUEST) -> InvoiceIssued:
    return InvoiceIssued(
        document_id=uuid.uuid4(),
        number="49-2027-000042",
        departement="49",
        year=2027,
        collectivite_code="49007",
        collectivite_kind=RequesterKind.COMMUNE,
        collectivite_name="Angers",
        lines=[
            LineRef(
                kind="mission",
                label="Mission",
                quantity=Decimal("3.5"),
                unit="jour",
                unit_price=Decimal("350"),
                amount_excl_tax=Decimal("1225.00"),
                vat_rate=Decimal("0"),
                vat_amount=Decimal("0"),
                amount_incl_tax=Decimal("1225.00"),
            )
        ],
        total_excl_tax=Decimal("1225.00"),
        total_vat=Decimal("0"),
        total_incl_tax=Decimal("1225.00"),
        issued_at=NOW,
        invoice_kind="mission",
        tariff_version=1,
        request_id=request_id,
        assignment_id=ASSIGNMENT,
    )


def known(**overrides: object) -> Known:
    values: dict[str, object] = {"departement": "49", "team_address": TEAM, "demande": CARD}
    return Known(**(values | overrides))  # type: ignore[arg-type]


def who(planned: list[rules.Planned]) -> list[tuple[Kind, Role, str | None]]:
    return [(p.kind, p.role, p.address) for p in planned]
