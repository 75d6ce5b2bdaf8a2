"""A demande as a collectivité submits it to the requests service (the body of
``POST /v1/requests``, a ``RequestDraft``): Angers (49007) for a public building, starting
in a month; a test overrides what it is about."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts.topics import REQUESTS_COMMAND, REQUESTS_REQUEST, dead_letter_topic
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.support.events import Raw, kafka_headers
from tests.support.kafka_tap import TopicTap, publish_raw


def demande_body(**overrides: Any) -> dict[str, Any]:
    start = datetime.now(UTC).date() + timedelta(days=30)
    values: dict[str, Any] = {
        "requester_code": "49007",
        "contact": {"name": "Marie Dupont", "email": "marie.dupont@example.fr"},
        "title": "Réhabilitation de la salle des fêtes",
        "description": "Diagnostic du bâtiment et programme de travaux d'accessibilité.",
        "themes": ["batiments_publics", "architecture_paysage"],
        "phase": "faisabilite",
        "estimated_budget": "180000.50",
        "wished_start": start.isoformat(),
        "wished_end": (start + timedelta(days=200)).isoformat(),
    }
    return values | overrides


# --- the same demande as a command event of a département's own system --------------------

COMMAND_DLQ = dead_letter_topic(REQUESTS_COMMAND.name, "requests")


def command(departement: str, **overrides: Any) -> tuple[Envelope, bytes]:
    """A ``submit-request`` command on ``requests.command.v1``: its envelope and its value."""
    envelope = Envelope(
        type="requests.command.submit-request.v1", source="sig-departement", departement=departement
    )
    payload = demande_body(request_id=str(uuid.uuid4()), **overrides)
    return envelope, json.dumps(payload).encode()


def command_record(envelope: Envelope, value: bytes) -> Raw:
    return envelope.departement.encode(), value, kafka_headers(envelope)


async def publish_commands(kafka: KafkaSettings, records: list[Raw]) -> None:
    await publish_raw(kafka, REQUESTS_COMMAND.name, records)


@asynccontextmanager
async def command_outcomes(kafka: KafkaSettings) -> AsyncIterator[tuple[TopicTap, TopicTap]]:
    """What the requests service makes of the commands: their dead letters, its demandes."""
    async with TopicTap(kafka, COMMAND_DLQ) as dead, TopicTap(kafka, REQUESTS_REQUEST.name) as out:
        yield dead, out
