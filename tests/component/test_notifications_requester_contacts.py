"""The demande's contact from the restricted topic, with the real broker, database and
SMTP server (ADR 0020): a demande heard of before its contact waits for it, then its
acknowledgement goes to the contact's address, once."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from shared.settings import KafkaSettings
from tests.component.notification_demandes import DEP, TEAM, publish
from tests.support import events
from tests.support.kafka_tap import publish_raw
from tests.support.services import RunningService
from tests.support.smtp_server import SmtpSink

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def acknowledgement(service: RunningService, request_id: uuid.UUID) -> dict[str, Any]:
    """The requester's ``demande_recue`` of the demande, once the service recorded it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = await service.client.get(
            "/v1/deliveries", params={"kind": "demande_recue", "limit": 500}, headers=TEAM
        )
        assert found.status_code == 200, found.text
        mine = [d for d in found.json() if d["request_id"] == str(request_id)]
        if mine:
            [delivery] = mine
            return delivery
        await asyncio.sleep(0.2)
    raise TimeoutError("the demande's acknowledgement was not recorded")


async def test_a_demande_before_its_contact_is_acknowledged_once_the_contact_arrives(
    service: RunningService, smtp: SmtpSink, kafka_topics: KafkaSettings
) -> None:
    address = f"marie.{uuid.uuid4().hex[:8]}@example.fr"
    submitted = events.request_submitted_v2(departement=DEP)
    contact = events.contact_recorded(
        contact_id=submitted.contact_id,
        departement=DEP,
        request_id=submitted.request_id,
        email=address,
    )
    await publish(kafka_topics, submitted)
    waiting = await acknowledgement(service, submitted.request_id)
    assert waiting["status"] == "awaiting_recipient"
    assert smtp.to(address) == []

    _, (_, value, headers) = events.as_record(contact)
    key = str(contact.contact_id).encode()
    await publish_raw(kafka_topics, contact.topic, [(key, value, headers), (key, value, headers)])
    await smtp.wait_for(lambda: smtp.to(address) != [], timeout=60, settle=1.0)
    [mail] = smtp.to(address)
    assert "Marie Dupont" in mail.text
    assert (await acknowledgement(service, submitted.request_id))["status"] == "sent"
