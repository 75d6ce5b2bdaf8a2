"""The outbox relay: publishes committed outbox rows to Kafka, in order.

One relay per service is active at a time: it holds a PostgreSQL advisory lock
on a dedicated connection, and the other instances wait on standby. A single
publisher keeps each key's events in commit order; if it dies the lock goes
with its connection and another instance takes over.

Delivery is at least once: a row is marked published only after Kafka
acknowledged it (``acks=all``). A crash in between publishes it again with the
same ``ce_id``, which consumers recognise.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.messaging.envelope import H_CORRELATION_ID
from shared.messaging.outbox import NOTIFY_CHANNEL
from shared.messaging.tables import OUTBOX
from shared.observability.logging import get_logger
from shared.observability.metrics import (
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_RELAY_LEADER,
)

log = get_logger(__name__)


def relay_lock_key(service: str) -> int:
    # Stable across processes and Python versions, unlike hash().
    return zlib.crc32(f"mg-outbox-relay:{service}".encode())


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        broker: KafkaBroker,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        retry_seconds: float = 1.0,
    ) -> None:
        self._service = service
        self._engine = engine
        self._broker = broker
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retry_seconds = retry_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.is_leader = False
        self._listening = False
        self.published = 0

    def wake(self) -> None:
        """Called after a local commit; PostgreSQL's NOTIFY covers it once the relay listens."""
        if not self._listening:
            self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Lead when possible, publish while leading, survive database and broker outages."""
        while not self._stopping.is_set():
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay interrupted", error=repr(exc))
                # While the broker is down the backlog grows: the gauges must show it.
                with contextlib.suppress(Exception):
                    await self._measure_backlog()
            finally:
                self._set_leader(False)
                self._listening = False
            # Not ``_sleep``: a wake-up left set by the last commit would make this a busy
            # loop while the database is down (seen in the PostgreSQL drills).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._retry_seconds)

    async def _lead(self) -> None:
        async with self._engine.connect() as conn:
            # Each statement its own transaction: no commit round trips, no open snapshot.
            lock_conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            acquired = (
                await lock_conn.execute(
                    select(func.pg_try_advisory_lock(relay_lock_key(self._service)))
                )
            ).scalar_one()
            if not acquired:
                return
            self._set_leader(True)
            log.info("outbox relay leading")
            await self._listen(lock_conn)
            try:
                while not self._stopping.is_set():
                    self._wake.clear()
                    # On the lock's own connection: if it dies, leadership ends with this pass.
                    sent = await self.publish_batch(lock_conn)
                    if sent < self._batch_size:
                        await self._sleep(self._poll_seconds)
            finally:
                with contextlib.suppress(Exception):
                    await lock_conn.execute(
                        select(func.pg_advisory_unlock(relay_lock_key(self._service)))
                    )

    async def _listen(self, conn: AsyncConnection) -> None:
        raw: Any = await conn.get_raw_connection()
        driver = raw.driver_connection
        if driver is not None and hasattr(driver, "add_listener"):
            await driver.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
            self._listening = True

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def publish_batch(self, conn: AsyncConnection) -> int:
        """Publish the oldest unpublished rows; returns how many went out."""
        rows = (
            await conn.execute(
                select(
                    OUTBOX.c.id,
                    OUTBOX.c.event_type,
                    OUTBOX.c.topic,
                    OUTBOX.c.message_key,
                    OUTBOX.c.headers,
                    OUTBOX.c.payload,
                )
                .where(OUTBOX.c.published_at.is_(None))
                .order_by(OUTBOX.c.id)
                .limit(self._batch_size)
            )
        ).all()
        if not rows:
            return 0
        pending = [
            await self._broker.publish(
                row.payload,
                topic=row.topic,
                key=row.message_key.encode(),
                headers=row.headers,
                correlation_id=row.headers.get(H_CORRELATION_ID),
                no_confirm=True,
            )
            for row in rows
        ]
        await asyncio.gather(*pending)
        await conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_([row.id for row in rows]))
            .values(published_at=datetime.now(UTC))
        )
        for row in rows:
            EVENTS_PUBLISHED.labels(self._service, row.event_type).inc()
        self.published += len(rows)
        return len(rows)

    async def report_backlog(self) -> None:
        """The backlog gauges, refreshed periodically by the instance that leads."""
        if self.is_leader:
            await self._measure_backlog()

    async def _measure_backlog(self) -> None:
        async with self._engine.connect() as conn:
            count, oldest = (
                await conn.execute(
                    select(func.count(), func.min(OUTBOX.c.created_at)).where(
                        OUTBOX.c.published_at.is_(None)
                    )
                )
            ).one()
            await conn.commit()
        OUTBOX_BACKLOG.labels(self._service).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service).set(age)

    def _set_leader(self, leading: bool) -> None:
        self.is_leader = leading
        OUTBOX_RELAY_LEADER.labels(self._service).set(1 if leading else 0)
