"""The dispatcher: works the ``deliveries`` table.

It claims due rows (``FOR UPDATE SKIP LOCKED``, so instances share the work) and
pushes their due time forward by a lease, commits, then sends each one in its own
task. Each endpoint (the mail server, each webhook subscription) has its own
concurrency limit and every send its own timeout, so one slow or failing endpoint
holds its own slots and nobody else's. The outcome is recorded as soon as the send
returns: sent (and its event), retried later with backoff, or dead-lettered.

It knows its senders and its units of work only as ports; ``bootstrap`` hands it the
SMTP mailer, the webhook client and units of work whose commit publishes the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from services.notifications.config import NotificationSettings
from services.notifications.domain.delivery import DeliveryFailed, Retry
from services.notifications.domain.model import Channel, Delivery, email_endpoint
from services.notifications.service_layer.attempts import (
    record_failure,
    record_sent,
    record_skipped,
)
from services.notifications.service_layer.ports import Sender, UnitOfWork
from shared.observability.logging import get_logger, log_context
from shared.observability.metrics import NOTIFICATION_SEND_SECONDS, NOTIFICATIONS

log = get_logger(__name__)

# What becomes of one delivery attempt, as ``mg_notifications_total`` counts it.
OUTCOMES = ("sent", "retried", "dead_lettered", "skipped")


class Dispatcher:
    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        senders: Mapping[Channel, Sender],
        settings: NotificationSettings,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._uow_factory = uow_factory
        self._senders = senders
        self._settings = settings
        self._draw = draw
        self._wake = asyncio.Event()
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        # Every series at zero from the start: ``increase()`` then counts the first one.
        for channel in Channel:
            NOTIFICATION_SEND_SECONDS.labels(channel.value)
            for outcome in OUTCOMES:
                NOTIFICATIONS.labels(channel.value, outcome)

    def wake(self) -> None:
        """New deliveries were committed, a slot came free, or a retry is due."""
        self._wake.set()

    def _limit(self, endpoint: str) -> int:
        if endpoint == email_endpoint():
            return self._settings.smtp_concurrency
        return self._settings.webhook_concurrency

    async def run(self) -> None:
        """Until cancelled: start what is due, then wait for a wake-up or the next poll."""
        try:
            while True:
                self._wake.clear()
                try:
                    started = await self._start_due()
                except Exception as exc:
                    # The database is away: sends in flight carry on, claims resume later.
                    log.warning("no deliveries claimed", error=repr(exc))
                    started = 0
                if started:
                    continue
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a
                # cancellation that lands as the wake-up does, and the dispatcher would
                # then never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._settings.dispatch_poll_seconds):
                        await self._wake.wait()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for sender in self._senders.values():
                with contextlib.suppress(Exception):
                    await sender.aclose()

    async def _start_due(self) -> int:
        busy = [e for e, n in self._in_flight.items() if n >= self._limit(e)]
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            due = await uow.deliveries.claim(now, busy, self._settings.dispatch_batch)
            free: dict[str, int] = {}
            chosen = []
            for delivery in due:
                left = free.setdefault(
                    delivery.endpoint,
                    self._limit(delivery.endpoint) - self._in_flight[delivery.endpoint],
                )
                if left > 0:
                    chosen.append(delivery)
                    free[delivery.endpoint] = left - 1
            # The lease: if this instance dies mid-send, the row is due again after it.
            lease = timedelta(seconds=self._settings.lease_seconds)
            await uow.deliveries.lease([d.id for d in chosen], now + lease, now)
            await uow.commit()
        for delivery in chosen:
            self._in_flight[delivery.endpoint] += 1
            task = asyncio.create_task(self._deliver(delivery), name=f"deliver-{delivery.id}")
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._finished, delivery.endpoint))
        return len(chosen)

    def _finished(self, endpoint: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight[endpoint] -= 1
        if self._in_flight[endpoint] <= 0:
            del self._in_flight[endpoint]
        self.wake()

    async def _deliver(self, delivery: Delivery) -> None:
        with log_context(
            notification_id=str(delivery.id),
            correlation_id=delivery.correlation_id,
            departement=delivery.departement,
        ):
            if delivery.channel is Channel.WEBHOOK and not delivery.url:
                await self._record_skipped(delivery, "subscription_removed")
                return
            started = time.perf_counter()
            try:
                await self._senders[delivery.channel].send(delivery)
            except DeliveryFailed as failure:
                NOTIFICATION_SEND_SECONDS.labels(delivery.channel.value).observe(
                    time.perf_counter() - started
                )
                await self._record_failure(delivery, failure)
            except Exception as exc:
                # Not foreseen, so not known to be final: tried again like a timeout.
                await self._record_failure(delivery, DeliveryFailed("error", repr(exc)[:300]))
            else:
                NOTIFICATION_SEND_SECONDS.labels(delivery.channel.value).observe(
                    time.perf_counter() - started
                )
                await self._record_sent(delivery)

    async def _record_sent(self, delivery: Delivery) -> None:
        try:
            async with self._uow_factory() as uow:
                recorded = await record_sent(uow, delivery, datetime.now(UTC))
        except Exception as exc:
            # Sent but not recorded: the lease expires and it is sent again, with the same
            # Message-ID or CloudEvent id (docs/adr/0009-notifications.md).
            log.error("sent but not recorded", error=repr(exc))
            return
        NOTIFICATIONS.labels(delivery.channel.value, "sent").inc()
        if recorded:
            log.info("delivered", kind=delivery.kind.value, attempt=delivery.attempts + 1)

    async def _record_failure(self, delivery: Delivery, failure: DeliveryFailed) -> None:
        try:
            async with self._uow_factory() as uow:
                decision = await record_failure(
                    uow, delivery, failure, self._settings, datetime.now(UTC), self._draw()
                )
        except Exception as exc:
            log.error("failure not recorded, retried after the lease", error=repr(exc))
            return
        if isinstance(decision, Retry):
            NOTIFICATIONS.labels(delivery.channel.value, "retried").inc()
            delay = max(0.0, (decision.at - datetime.now(UTC)).total_seconds())
            log.info(
                "delivery failed, retrying",
                kind=delivery.kind.value,
                reason=failure.reason,
                attempt=delivery.attempts + 1,
                retry_in=round(delay, 3),
            )
            asyncio.get_running_loop().call_later(delay, self.wake)
            return
        NOTIFICATIONS.labels(delivery.channel.value, "dead_lettered").inc()
        log.warning(
            "delivery dead-lettered",
            kind=delivery.kind.value,
            reason=failure.reason,
            attempts=delivery.attempts + 1,
        )
        self.wake()

    async def _record_skipped(self, delivery: Delivery, reason: str) -> None:
        try:
            async with self._uow_factory() as uow:
                await record_skipped(uow, delivery, reason)
        except Exception as exc:
            log.error("skip not recorded, looked at again after the lease", error=repr(exc))
            return
        NOTIFICATIONS.labels(delivery.channel.value, "skipped").inc()
        log.info("delivery skipped", kind=delivery.kind.value, reason=reason)
