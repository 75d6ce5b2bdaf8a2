"""Conventions in the notifications service, on in-memory fakes: the collectivité is
asked to sign, reminded seven days before expiry (once, and not once signed), and told
with the actor when the convention expired."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from services.notifications.config import NotificationSettings
from services.notifications.domain.model import Kind, Role
from services.notifications.service_layer import contacts, events, reminders
from shared.auth.tokens import Principal
from shared.auth.tokens import Role as PrincipalRole
from shared.contracts.base import EventPayload
from shared.contracts.conventions import ConventionExpired, ConventionSent, ConventionSigned
from shared.messaging.envelope import Envelope
from tests.unit.fakes.notifications import FakeUnitOfWork, Tables
from tests.unit.notification_events import ASSIGNMENT, CARD, NOW, REQUEST, submitted

SETTINGS = NotificationSettings()
VALID_UNTIL = NOW + timedelta(days=90)


def convention(**extra: Any) -> dict[str, Any]:
    return {
        "convention_id": uuid.UUID("c0000000-0000-4000-8000-000000000001"),
        "number": "CONV-49-2026-000001",
        "version": 0,
        "departement": "49",
        "demande_id": REQUEST,
        "assignment_id": ASSIGNMENT,
        "actor_id": "caue49",
        "collectivite_kind": "commune",
        "collectivite_code": "49007",
        "collectivite_name": "Angers",
        "total_excl_tax": "1700.00",
        "total_vat": "0.00",
        "total_incl_tax": "1700.00",
        "valid_until": VALID_UNTIL,
    } | extra


async def record(tables: Tables, payload: EventPayload, now: datetime = NOW) -> int:
    uow = FakeUnitOfWork(tables)
    envelope = Envelope(type=payload.event_type, source="billing", departement="49")
    async with uow:
        recorded = await events.record_event(uow, envelope, payload, SETTINGS, now)
        await uow.commit()
    return recorded


def kinds(tables: Tables) -> list[tuple[Kind, Role, str | None]]:
    return sorted((r.new.kind, r.new.role, r.address) for r in tables.deliveries.values())


async def remind(tables: Tables, now: datetime) -> int:
    return await reminders.remind_conventions(FakeUnitOfWork(tables), SETTINGS, now)


async def test_a_sent_convention_is_to_sign_and_reminded_seven_days_before_it_expires() -> None:
    tables = Tables()
    await record(tables, submitted())
    tables.deliveries.clear()
    assert await record(tables, ConventionSent.model_validate(convention(sent_at=NOW))) == 1
    # The same fact again under another event id: nothing more.
    assert await record(tables, ConventionSent.model_validate(convention(sent_at=NOW))) == 0
    assert kinds(tables) == [(Kind.CONVENTION_A_SIGNER, Role.REQUESTER, CARD.contact_email)]
    [asked] = tables.deliveries.values()
    assert asked.payload["convention"] == "CONV-49-2026-000001"
    assert asked.payload["montant_ttc"].startswith("1\u202f700,00")
    due = VALID_UNTIL - timedelta(days=7)
    assert await remind(tables, due - timedelta(minutes=1)) == 0
    assert await remind(tables, due + timedelta(minutes=1)) == 1
    assert await remind(tables, due + timedelta(hours=1)) == 0
    reminded = [r for r in tables.deliveries.values() if r.new.kind is Kind.RAPPEL_CONVENTION]
    assert [r.address for r in reminded] == [CARD.contact_email]
    assert reminded[0].payload["demande_titre"] == CARD.title


async def test_a_signed_convention_is_not_reminded_and_an_expired_one_is_told() -> None:
    tables = Tables()
    await record(tables, submitted())
    caue = Principal(PrincipalRole.ACTOR, "caue49", "49", "caue49")
    await contacts.save_actor_contact(
        FakeUnitOfWork(tables), caue, "caue49", None, "contact@caue49.fr", None, NOW
    )
    tables.deliveries.clear()
    await record(tables, ConventionSent.model_validate(convention(sent_at=NOW)))
    signed = ConventionSigned.model_validate(
        convention(engagement_number="EJ-1", signed_at=NOW + timedelta(days=1))
    )
    await record(tables, signed)
    assert await remind(tables, VALID_UNTIL - timedelta(days=3)) == 0

    other = convention(convention_id=uuid.uuid4(), number="CONV-49-2026-000002")
    await record(tables, ConventionSent.model_validate(other | {"sent_at": NOW}))
    await record(tables, ConventionExpired.model_validate(other | {"expired_at": VALID_UNTIL}))
    assert await remind(tables, VALID_UNTIL - timedelta(days=3)) == 0
    told = [
        (r.new.role, r.address)
        for r in tables.deliveries.values()
        if r.new.kind is Kind.CONVENTION_EXPIREE
    ]
    assert sorted(told) == [
        (Role.ACTOR, "contact@caue49.fr"),
        (Role.REQUESTER, CARD.contact_email),
    ]
