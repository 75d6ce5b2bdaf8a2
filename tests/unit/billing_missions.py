"""A mission as billing sees it, on the in-memory fakes: the lead actor's acceptance
prepares the convention, the team sends it, the collectivité signs it, the completion
is invoiced on the convention's schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.billing.domain.convention import Convention
from services.billing.domain.invoice import Invoice
from services.billing.service_layer import conventions, mission_invoices
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentAccepted, AssignmentCompleted
from shared.contracts.vocabulary import RequesterKind
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.support import events
from tests.unit.fakes.billing import FakeUnitOfWork

NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
TEAM_49 = Principal(Role.DEPARTEMENT, "agent-49", "49")


def completion(
    requester: str = "49007", days: str = "2.5", actor: str = "caue"
) -> AssignmentCompleted:
    return events.assignment_completed(
        actor_id=f"{actor}49",
        actor_kind=actor,
        requester_code=requester,
        requester_kind=RequesterKind.EPCI if len(requester) == 9 else RequesterKind.COMMUNE,
        days_spent=Decimal(days),
        started_at=datetime(2027, 3, 1, tzinfo=UTC),
        completed_at=datetime(2027, 9, 15, tzinfo=UTC),
    )


def acceptance(event: AssignmentCompleted, *, lead: bool = True) -> AssignmentAccepted:
    """The lead actor's acceptance that came before ``event``."""
    return events.accepted_before(event, accepted_at=NOW, lead=lead)


def signatory(code: str) -> Principal:
    return Principal(Role.COLLECTIVITE, f"mairie-{code}", "49", scope=code)


async def prepare(uow: FakeUnitOfWork, event: AssignmentCompleted) -> Convention:
    envelope = Envelope(type="t", source="matching", departement=event.departement)
    prepared = await conventions.prepare_convention(
        uow, acceptance(event), envelope, get_territories(), NOW
    )
    await uow.commit()  # the consumer commits
    assert prepared is not None
    return prepared


async def sign_mission(
    uow: FakeUnitOfWork,
    event: AssignmentCompleted,
    engagement: str = "EJ-2027-000001",
    service_code: str | None = None,
    siret: str | None = None,
) -> Convention:
    """Prepared, sent on the days the actor reports, and signed."""
    prepared = await prepare(uow, event)
    await conventions.send_convention(
        uow, TEAM_49, prepared.id, NOW, estimated_days=event.days_spent
    )
    return await conventions.sign_convention(
        uow,
        signatory(event.requester_code),
        prepared.id,
        NOW,
        engagement_number=engagement,
        service_code=service_code,
        siret=siret,
    )


async def bill(uow: FakeUnitOfWork, event: AssignmentCompleted) -> Invoice | None:
    """The completion's invoice (the balance), as the consumer issues it."""
    envelope = Envelope(type=event.event_type, source="matching", departement="49")
    invoice = await mission_invoices.invoice_mission(uow, event, envelope)
    await uow.commit()
    return invoice
