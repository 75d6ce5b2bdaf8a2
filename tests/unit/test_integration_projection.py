"""The projection to the départements' integration topics, and the département of a
command (ADR 0020), without a broker."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.notifications.service_layer.integration import project
from shared.contracts.topics import (
    PROJECTED_TOPICS,
    REQUESTS_COMMAND,
    REQUESTS_CONTACT,
    all_topic_names,
    departement_of_commands,
)
from shared.messaging.dead_letter import FailedRecord
from shared.messaging.envelope import Envelope
from shared.settings import IntegrationSettings
from tests.support.events import contact_recorded, kafka_headers, request_submitted_v2
from tests.unit.fakes.requests import FakeUnitOfWork


def record_of(envelope: Envelope, body: bytes, topic: str = "requests.request.v1") -> FailedRecord:
    return FailedRecord(
        topic, 3, 42, envelope.departement.encode(), body, tuple(kafka_headers(envelope))
    )


async def test_a_shared_event_of_a_served_departement_goes_to_its_topic_as_it_came() -> None:
    event = request_submitted_v2()
    envelope = Envelope(type=event.event_type, source="requests", departement="49")
    body = event.model_dump_json().encode()
    uow = FakeUnitOfWork()
    assert await project(uow, envelope, event, record_of(envelope, body), ("49", "35"))
    [(topic, key, headers, forwarded)] = uow.outbox.forwarded
    assert (topic, key, forwarded) == ("dept.49.events.v1", "49", body)
    assert headers == envelope.to_headers() | {"original_topic": "requests.request.v1"}


async def test_nothing_for_a_departement_not_served_nor_of_a_person() -> None:
    event = request_submitted_v2(departement="44")
    other = Envelope(type=event.event_type, source="requests", departement="44")
    contact = contact_recorded()
    mine = Envelope(type=contact.event_type, source="requests", departement="49")
    uow = FakeUnitOfWork()
    assert not await project(uow, other, event, record_of(other, b"{}"), ("49",))
    assert not await project(uow, mine, contact, record_of(mine, b"{}"), ("49",))
    assert uow.outbox.forwarded == []


def test_the_departement_of_a_command_is_its_topics() -> None:
    assert departement_of_commands("dept.35.commands.v1") == "35"
    assert departement_of_commands("dept.2A.commands.v1") == "2A"
    for other in (
        "requests.command.v1",
        "dept.35.events.v1",
        "dept.35.commands.v2",
        "x.35.commands.v1",
    ):
        assert departement_of_commands(other) is None


def test_restricted_topics_are_neither_projected_nor_shared() -> None:
    projected = {t.name for t in PROJECTED_TOPICS}
    assert REQUESTS_CONTACT.name not in projected and REQUESTS_COMMAND.name not in projected
    assert REQUESTS_CONTACT.configs() == {"cleanup.policy": "compact"}
    names = all_topic_names(("49", "2A"))
    assert {"dept.2A.events.v1", "dept.2A.commands.v1", "dept.2A.commands.v1.requests.dlq"} <= set(
        names
    )
    assert "requests.request.v1.integration.dlq" in names
    assert "requests.contact.v1.integration.dlq" not in names


def test_the_departements_served_are_checked_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MG_INTEGRATION_DEPARTEMENTS", " 49, 2A ,971")
    assert IntegrationSettings().codes == ("49", "2A", "971")
    monkeypatch.setenv("MG_INTEGRATION_DEPARTEMENTS", "49,20")
    with pytest.raises(ValidationError, match="20"):
        IntegrationSettings()
    monkeypatch.delenv("MG_INTEGRATION_DEPARTEMENTS")
    assert IntegrationSettings().codes == ("49", "35", "24", "78")
