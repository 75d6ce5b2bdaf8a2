"""The processed-events table: the idempotent consumer's memory."""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.messaging.envelope import Envelope
from shared.messaging.tables import PROCESSED_EVENTS

HANDLED = "handled"
DEAD_LETTERED = "dead_lettered"


class Inbox:
    def __init__(self, session: AsyncSession, table: Table = PROCESSED_EVENTS) -> None:
        """``table``: a consumer that sees the same events as the service's own (the
        projection to the integration topics) keeps them in a table of its own."""
        self._session = session
        self._table = table

    async def claim(
        self, envelope: Envelope, *, topic: str, partition: int, offset: int, outcome: str = HANDLED
    ) -> bool:
        """Record the event in the caller's transaction; False when it was processed before.

        The primary key makes this safe between concurrent instances too: the
        second insert waits for the first transaction, then does nothing.
        """
        result = await self._session.execute(
            insert(self._table)
            .values(
                event_id=envelope.id,
                event_type=envelope.type,
                topic=topic,
                kafka_partition=partition,
                kafka_offset=offset,
                outcome=outcome,
            )
            .on_conflict_do_nothing(index_elements=[self._table.c.event_id])
            .returning(self._table.c.event_id)
        )
        return result.scalar_one_or_none() is not None

    async def seen(self, event_id: str) -> bool:
        result = await self._session.execute(
            select(self._table.c.event_id).where(self._table.c.event_id == event_id)
        )
        return result.scalar_one_or_none() is not None
