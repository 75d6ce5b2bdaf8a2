"""Events and what the service already knows, as the notifications rules see them: the
builders shared by the rule tests and the use-case tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.notifications.domain import rules
from services.notifications.domain.model import (
    Kind,
    Role,
)
from services.notifications.domain.rules import DemandeCard, Known
from shared.contracts.billing import InvoiceIssued
from shared.contracts.matching import AssignmentProposed
from shared.contracts.requests import Requester, RequestSubmitted
from shared.contracts.vocabulary import RequesterKind
from tests.support import events

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
NEED = events.NEED


def submitted() -> RequestSubmitted:
    return events.request_submitted(
        request_id=REQUEST,
        requester=Requester(kind=RequesterKind.COMMUNE, code="49007", name="Angers", population=1),
        submitted_at=NOW,
    )


def proposed(**overrides: object) -> AssignmentProposed:
    values: dict[str, object] = {
        "assignment_id": ASSIGNMENT,
        "request_id": REQUEST,
        "respond_by": datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        "proposed_at": NOW,
    }
    return events.assignment_proposed(**(values | overrides))


def invoice(request_id: uuid.UUID | None = REQUEST) -> InvoiceIssued:
    return events.mission_invoice(
        collectivite_name="Angers",
        issued_at=NOW,
        request_id=request_id,
        assignment_id=ASSIGNMENT,
    )


def reminder(**overrides: object) -> rules.Planned:
    """The reminder to the CAUE of the demande ``CARD``, due ``NOW``, its address unknown."""
    values: dict[str, object] = {
        "departement": "49",
        "request_id": REQUEST,
        "actor_id": "caue49",
        "actor_name": "CAUE",
        "respond_by": NOW,
        "actor_address": None,
        "demande": CARD,
    }
    return rules.reminder(**(values | overrides))  # type: ignore[arg-type]


def dead_letter_notice(**overrides: object) -> rules.Planned:
    """What the team of the 49 is told when a webhook delivery was given up after 8 tries."""
    values: dict[str, object] = {
        "departement": "49",
        "team_address": TEAM,
        "failed_kind": Kind.WEBHOOK,
        "failed_role": Role.SUBSCRIBER,
        "channel": "webhook",
        "reason": "http_500",
        "attempts": 8,
        "source_event_type": "matching.assignment.proposed.v1",
        "source_event_id": "0b6c3f7e-5d0a-4c39-9a51-2f1f8c1f9d11",
        "subscription_id": None,
    }
    return rules.dead_letter_notice(**(values | overrides))  # type: ignore[arg-type]


def known(**overrides: object) -> Known:
    values: dict[str, object] = {"departement": "49", "team_address": TEAM, "demande": CARD}
    return Known(**(values | overrides))  # type: ignore[arg-type]


def who(planned: list[rules.Planned]) -> list[tuple[Kind, Role, str | None]]:
    return [(p.kind, p.role, p.address) for p in planned]
