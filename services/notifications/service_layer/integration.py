"""The projection to the départements' integration topics (ADR 0020).

Each shared event of a département served is written, as it came (key, headers, bytes:
same ``ce_id`` and ``ce_type``), to ``dept.<code>.events.v1``, which only that
département's principal may read. The outbox row is written in the same transaction as
the projection's inbox claim: each event reaches its integration topic once. Events that
carry personal data are never projected; a département not served gets nothing.
"""

from __future__ import annotations

from shared.contracts.base import EventPayload
from shared.contracts.topics import departement_events
from shared.messaging.dead_letter import FailedRecord
from shared.messaging.envelope import Envelope, decode_headers
from shared.messaging.ports import UnitOfWork
from shared.observability.logging import get_logger

log = get_logger(__name__)

# Says which shared topic a projected event was read from.
H_ORIGINAL_TOPIC = "original_topic"


async def project(
    uow: UnitOfWork,
    envelope: Envelope,
    payload: EventPayload,
    record: FailedRecord,
    served: tuple[str, ...],
) -> bool:
    """Write the event to its département's integration topic; False when it has none."""
    if payload.personal_data or envelope.departement not in served:
        return False
    headers = decode_headers(record.headers) | {H_ORIGINAL_TOPIC: record.topic}
    await uow.outbox.forward(
        envelope,
        topic=departement_events(envelope.departement).name,
        key=(record.key or envelope.departement.encode()).decode("ascii", "replace"),
        headers=headers,
        body=record.value or b"",
    )
    return True
