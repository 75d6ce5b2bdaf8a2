"""The transactional outbox: events are rows written with the state change.

The relay (:mod:`shared.messaging.relay`) publishes them to Kafka afterwards,
so an event goes out if and only if its transaction committed.
"""

from __future__ import annotations

import uuid

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.base import EventPayload
from shared.messaging.envelope import Envelope
from shared.messaging.tables import OUTBOX

NOTIFY_CHANNEL = "mg_outbox"
FORWARDED = uuid.UUID("0b7f6f0e-52a4-4d53-a1f1-3f6f8e0d2c11")


class OutboxWriter:
    """Adds events to the outbox inside the caller's transaction."""

    def __init__(self, session: AsyncSession, source: str) -> None:
        self._session = session
        self._source = source
        self.written: list[Envelope] = []

    async def add_many(
        self, items: list[tuple[EventPayload, str]], *, correlation_id: str | None = None
    ) -> list[Envelope]:
        """Many events of one transaction in one statement: (payload, département) pairs."""
        if not items:
            return []
        envelopes = [
            Envelope(
                type=payload.event_type,
                source=self._source,
                departement=departement,
                correlation_id=correlation_id or "",
            )
            for payload, departement in items
        ]
        await self._session.execute(
            insert(OUTBOX),
            [
                {
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "topic": payload.topic,
                    "message_key": departement,
                    "headers": envelope.to_headers(),
                    "payload": payload.model_dump_json().encode(),
                    "created_at": envelope.time,
                }
                for envelope, (payload, departement) in zip(envelopes, items, strict=True)
            ],
        )
        await self._notify()
        self.written += envelopes
        return envelopes

    async def add(
        self,
        payload: EventPayload,
        *,
        departement: str,
        caused_by: Envelope | None = None,
        correlation_id: str | None = None,
        key: str | None = None,
    ) -> Envelope:
        """One event; its key is the département unless ``key`` says otherwise (the
        restricted contact topic is keyed by contact id, ADR 0020)."""
        if caused_by is not None:
            envelope = caused_by.caused(payload.event_type, self._source, departement)
        else:
            envelope = Envelope(
                type=payload.event_type,
                source=self._source,
                departement=departement,
                correlation_id=correlation_id or "",
            )
        await self._session.execute(
            insert(OUTBOX).values(
                event_id=envelope.id,
                event_type=envelope.type,
                topic=payload.topic,
                # The département is the key: it keeps its events in order on one partition.
                message_key=key or departement,
                headers=envelope.to_headers(),
                payload=payload.model_dump_json().encode(),
                created_at=envelope.time,
            )
        )
        await self._notify()
        self.written.append(envelope)
        return envelope

    async def forward(
        self, envelope: Envelope, *, topic: str, key: str, headers: dict[str, str], body: bytes
    ) -> None:
        """Republish a consumed event as it is, to another topic: same key, headers (so same
        ``ce_id`` and ``ce_type``) and bytes. The projection to the integration topics.

        The row's own id is derived from the topic and ``ce_id``: the service's own events,
        projected too, already have a row under their ``ce_id``."""
        await self._session.execute(
            insert(OUTBOX).values(
                event_id=str(uuid.uuid5(FORWARDED, f"{topic}:{envelope.id}")),
                event_type=envelope.type,
                topic=topic,
                message_key=key,
                headers=headers,
                payload=body,
                created_at=envelope.time,
            )
        )
        await self._notify()
        self.written.append(envelope)

    async def _notify(self) -> None:
        if not self.written:
            # Delivered at commit, and only then: wakes the relay of whichever instance leads.
            await self._session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
