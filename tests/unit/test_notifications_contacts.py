"""The demande's contact from the restricted topic (ADR 0020): whichever of the contact
and ``requests.request.submitted.v2`` arrives first, the requester gets one message at the
address of the contact, never an empty one."""

from __future__ import annotations

import uuid

from services.notifications.config import NotificationSettings
from services.notifications.domain.model import DeliveryStatus, Kind, Role
from services.notifications.service_layer import events
from shared.contracts.base import EventPayload
from shared.contracts.requests import ContactRecorded, RequestSubmittedV2
from shared.messaging.envelope import Envelope
from tests.support.events import request_submitted
from tests.unit.fakes.notifications import FakeUnitOfWork, Tables
from tests.unit.notification_events import NOW, proposed

SETTINGS = NotificationSettings()
EMAIL = "marie.dupont@example.fr"


def pair() -> tuple[ContactRecorded, RequestSubmittedV2]:
    v1 = request_submitted(submitted_at=NOW)
    contact_id = uuid.uuid4()
    submitted = RequestSubmittedV2.model_validate(
        v1.model_dump(exclude={"contact"}) | {"contact_id": contact_id}
    )
    contact = ContactRecorded(
        contact_id=contact_id,
        departement="49",
        request_id=v1.request_id,
        name="Marie Dupont",
        email="Marie.Dupont@example.fr",
        recorded_at=NOW,
    )
    return contact, submitted


async def consume(tables: Tables, payload: EventPayload) -> None:
    uow = FakeUnitOfWork(tables)
    async with uow:
        if isinstance(payload, ContactRecorded):
            await events.record_contact(uow, payload, NOW)
        else:
            envelope = Envelope(type=payload.event_type, source="x", departement="49")
            await events.record_event(uow, envelope, payload, SETTINGS, NOW)
        await uow.commit()


def to_requester(tables: Tables) -> list[tuple[Kind, str | None, DeliveryStatus]]:
    return sorted(
        (r.new.kind, r.address, r.status)
        for r in tables.deliveries.values()
        if r.new.role is Role.REQUESTER
    )


async def test_the_contact_first_then_the_demande_addresses_it_at_once() -> None:
    tables = Tables()
    contact, submitted = pair()
    await consume(tables, contact)
    await consume(tables, submitted)
    assert to_requester(tables) == [(Kind.DEMANDE_RECUE, EMAIL, DeliveryStatus.PENDING)]
    [row] = tables.deliveries.values()
    assert row.new.payload["contact_nom"] == "Marie Dupont"


async def test_the_demande_first_waits_for_its_contact_then_goes_to_it() -> None:
    tables = Tables()
    contact, submitted = pair()
    await consume(tables, submitted)
    await consume(tables, proposed(request_id=submitted.request_id))
    assert {status for _, _, status in to_requester(tables)} == {DeliveryStatus.AWAITING_RECIPIENT}
    await consume(tables, contact)
    assert to_requester(tables) == [
        (Kind.ACTEUR_PROPOSE, EMAIL, DeliveryStatus.PENDING),
        (Kind.DEMANDE_RECUE, EMAIL, DeliveryStatus.PENDING),
    ]
    card = tables.demandes[submitted.request_id].card
    assert (card.contact_email, card.contact_id) == (EMAIL, contact.contact_id)


async def test_a_replayed_older_contact_does_not_overwrite_a_newer_one() -> None:
    tables = Tables()
    contact, _ = pair()
    newer = contact.model_copy(
        update={"email": "m.dupont@example.fr", "recorded_at": NOW.replace(hour=11)}
    )
    await consume(tables, newer)
    await consume(tables, contact)
    assert tables.requester_contacts[contact.contact_id].email == "m.dupont@example.fr"
