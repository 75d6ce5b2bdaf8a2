"""The idempotent consumer: every subscriber of every service goes through it.

For each record: check the CloudEvents envelope, ignore unknown types, parse
the payload, then run the handler in one transaction together with the
processed-event row, so that a redelivered event changes nothing. A message
that cannot succeed goes to the dead-letter topic with its reason after at
most ``max_attempts`` tries; when the database or the broker is down the
message is not dead-lettered but delivered again later, offsets untouched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError

from shared.contracts.base import EventPayload
from shared.contracts.topics import consumer_group
from shared.messaging.broker import consumer_options
from shared.messaging.dead_letter import DeadLetters, FailedRecord
from shared.messaging.envelope import Envelope, InvalidEnvelope, decode_headers
from shared.messaging.inbox import DEAD_LETTERED, Inbox
from shared.messaging.offsets import OffsetCommits
from shared.messaging.ports import Transaction
from shared.observability.logging import get_logger, log_context
from shared.observability.metrics import EVENTS_CONSUMED, HANDLER_SECONDS

log = get_logger(__name__)

P = TypeVar("P", bound=EventPayload)


class RejectedEvent(Exception):
    """Raised by a handler for an event that can never succeed (bad reference, broken rule)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class InfrastructureUnavailable(Exception):
    """The database or the broker is unreachable: the message waits, it is not at fault."""


class ConsumerUnitOfWork(Transaction, Protocol):
    """A transaction that records which events it handled (``inbox``), and knows its
    database's errors."""

    inbox: Inbox

    def unavailable(self, exc: BaseException) -> bool:
        """True when ``exc`` says the unit of work's database cannot be reached for now."""
        ...


U = TypeVar("U", bound=ConsumerUnitOfWork)


@dataclass(frozen=True, slots=True)
class Received(Generic[P]):
    envelope: Envelope
    payload: P
    topic: str
    partition: int
    offset: int
    # The record as it came (key, bytes, headers), for a handler that passes it on.
    record: FailedRecord | None = None


Handler = Callable[[U, Received[Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route(Generic[U]):
    model: type[EventPayload]
    handler: Handler[U]


def is_infrastructure_error(exc: BaseException, uow: ConsumerUnitOfWork) -> bool:
    """The broker, the network or the unit of work's database is down: wait, do not
    dead-letter. The unit of work judges its own database errors (e.g. SQLSTATE 57P03 while
    PostgreSQL starts up), even those of a handler that reached it outside the session."""
    # ConnectionError and TimeoutError are OSErrors.
    return isinstance(exc, KafkaError | OSError) or uow.unavailable(exc)


class IdempotentConsumer(Generic[U]):
    def __init__(
        self,
        *,
        service: str,
        uow_factory: Callable[[], U],
        routes: Mapping[str, Route[U]],
        dead_letters: DeadLetters,
        max_attempts: int = 3,
        retry_backoff_seconds: float = 0.2,
        redelivery_backoff_seconds: float = 1.0,
    ) -> None:
        self._service = service
        self._uow_factory = uow_factory
        self._routes = routes
        self._dead_letters = dead_letters
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff_seconds
        self._redelivery_backoff = redelivery_backoff_seconds

    async def handle(self, record: FailedRecord) -> str:
        """Process one record; returns the outcome. Raises only to have it delivered again."""
        try:
            envelope = Envelope.from_headers(decode_headers(record.headers))
        except InvalidEnvelope as exc:
            return await self._dead_letter(record, None, "invalid_envelope", str(exc), 1)
        with log_context(
            event_id=envelope.id,
            event_type=envelope.type,
            correlation_id=envelope.correlation_id,
            departement=envelope.departement,
        ):
            route = self._routes.get(envelope.type)
            if route is None:
                # Other producers may add event types; a consumer skips what it does not know.
                EVENTS_CONSUMED.labels(self._service, envelope.type, "ignored").inc()
                return "ignored"
            try:
                payload = route.model.model_validate_json(record.value or b"")
            except ValidationError as exc:
                return await self._dead_letter(
                    record, envelope, "invalid_payload", _describe(exc), 1
                )
            received = Received(
                envelope, payload, record.topic, record.partition, record.offset, record
            )
            return await self._process(record, received, route)

    async def _process(self, record: FailedRecord, received: Received[Any], route: Route[U]) -> str:
        envelope = received.envelope
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            uow = self._uow_factory()
            try:
                async with uow:
                    claimed = await uow.inbox.claim(
                        envelope,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                    )
                    if not claimed:
                        EVENTS_CONSUMED.labels(self._service, envelope.type, "duplicate").inc()
                        log.info("duplicate event skipped")
                        return "duplicate"
                    await route.handler(uow, received)
                    await uow.commit()
                HANDLER_SECONDS.labels(self._service, envelope.type).observe(
                    time.perf_counter() - started
                )
                EVENTS_CONSUMED.labels(self._service, envelope.type, "handled").inc()
                return "handled"
            except RejectedEvent as exc:
                return await self._dead_letter(record, envelope, exc.reason, exc.detail, attempt)
            except Exception as exc:
                if is_infrastructure_error(exc, uow):
                    log.warning(
                        "infrastructure unavailable, message will be redelivered", error=repr(exc)
                    )
                    await asyncio.sleep(self._redelivery_backoff)
                    raise InfrastructureUnavailable(repr(exc)) from exc
                if attempt >= self._max_attempts:
                    log.error("handler failed, dead-lettering", error=repr(exc), attempts=attempt)
                    return await self._dead_letter(
                        record, envelope, "handler_error", repr(exc), attempt
                    )
                EVENTS_CONSUMED.labels(self._service, envelope.type, "retried").inc()
                log.warning("handler failed, retrying", error=repr(exc), attempt=attempt)
                await asyncio.sleep(self._retry_backoff * 2 ** (attempt - 1))

    async def _dead_letter(
        self,
        record: FailedRecord,
        envelope: Envelope | None,
        reason: str,
        error: str,
        attempts: int,
    ) -> str:
        try:
            if envelope is not None:
                async with self._uow_factory() as uow:
                    if await uow.inbox.seen(envelope.id):
                        return "duplicate"
            await self._dead_letters.send(record, reason=reason, error=error, attempts=attempts)
        except Exception as exc:
            # Without a durable dead letter the message must not be acknowledged.
            await asyncio.sleep(self._redelivery_backoff)
            raise InfrastructureUnavailable(repr(exc)) from exc
        if envelope is not None:
            try:
                async with self._uow_factory() as uow:
                    await uow.inbox.claim(
                        envelope,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        outcome=DEAD_LETTERED,
                    )
                    await uow.commit()
            except Exception as exc:
                # The letter is safe on its topic; at worst a redelivery letters it twice.
                log.warning("dead letter not recorded in the inbox", error=repr(exc))
        event_type = envelope.type if envelope else "unknown"
        EVENTS_CONSUMED.labels(self._service, event_type, "dead_lettered").inc()
        log.warning("message dead-lettered", reason=reason, error=error[:300])
        return "dead_lettered"


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<body>'}: {err['msg']}" for err in exc.errors()
    )


def record_of(message: KafkaMessage) -> FailedRecord:
    raw: Any = message.raw_message
    return FailedRecord(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        value=raw.value,
        headers=tuple(raw.headers or ()),
    )


def subscribe(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    consumer: IdempotentConsumer[Any],
    offsets: OffsetCommits,
    offset_reset: str = "earliest",
    workers: int = 1,
) -> None:
    """Attach ``consumer`` to ``topic`` with the safe consumer settings.

    With ``workers`` > 1 the process runs that many members of the group, each
    handling its own partitions in order (a département's events stay ordered).
    """

    async def on_message(message: KafkaMessage) -> None:
        record = record_of(message)
        kafka_consumer: Any = message.consumer
        if offsets.closing:
            # Shutting down: left for whoever owns the partition next.
            offsets.rewind(kafka_consumer, record.topic, record.partition, record.offset)
            await asyncio.sleep(0.05)
            return
        with offsets.handling():
            try:
                await consumer.handle(record)
            except BaseException:
                # Fetch it again: the records after it on this partition wait behind it.
                offsets.rewind(kafka_consumer, record.topic, record.partition, record.offset)
                raise
            offsets.processed(kafka_consumer, record.topic, record.partition, record.offset)

    on_message.__name__ = f"{group_id}_{topic.replace('.', '_')}"
    # One group per service and topic: a service's subscriptions rebalance independently,
    # so joining one topic never pauses the consumption of another.
    broker.subscriber(
        topic,
        parser=_tolerant_headers,
        decoder=_whole_message,
        listener=offsets.listener(),
        max_workers=workers,
        **consumer_options(consumer_group(group_id, topic), offset_reset),
    )(on_message)


def consumers_of(subscriber: Any) -> list[Any]:
    """The Kafka consumers a subscriber runs: one, or one per worker."""
    group = getattr(subscriber, "consumer_subgroup", None)
    if group:
        return list(group)
    consumer = getattr(subscriber, "consumer", None)
    return [consumer] if consumer is not None else []


async def _tolerant_headers(
    record: Any, original: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    # FastStream decodes every header as UTF-8 before our handler runs: a record with
    # other bytes would be redelivered forever. Parse a readable copy, but keep the
    # original record, whose envelope check then dead-letters it.
    try:
        return await original(record)
    except UnicodeDecodeError:
        readable = dataclasses.replace(
            record,
            headers=tuple(
                (name, (value or b"").decode("utf-8", "replace").encode())
                for name, value in record.headers or ()
            ),
        )
        message = await original(readable)
        message.raw_message = record
        return message


async def _whole_message(message: StreamMessage[Any]) -> StreamMessage[Any]:
    # FastStream would parse the JSON before our handler runs and loop forever on a
    # broken body; without dependency injection the handler is called with what the
    # decoder returns: the message itself, whose record the idempotent consumer parses.
    return message
