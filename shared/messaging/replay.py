"""Reading a whole topic from offset 0, for the commands that rebuild a projection.

A replay reads every partition from its beginning up to the end offsets it saw when it
started (what is written afterwards is the live subscriber's to apply), parses each
record as the idempotent consumer does (CloudEvents envelope, payload model by
``ce_type``) and skips the types it was not asked for. It joins no consumer group and
commits no offset: the service's own subscription is untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from shared.contracts.base import EventPayload
from shared.contracts.registry import EVENT_MODELS
from shared.messaging.broker import client_options
from shared.messaging.envelope import H_TYPE, Envelope, InvalidEnvelope, decode_headers
from shared.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class Replayed:
    envelope: Envelope
    payload: EventPayload


class TopicReplay:
    """``async with TopicReplay(...) as replay``: ``replay.total`` records to read, then
    ``async for records in replay.batches()``; ``replay.read`` counts those read so far,
    ``replay.rejected`` those that are no valid event of the wanted types (dead letters of
    the live subscriber), which are skipped."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        event_types: Collection[str],
        client_id: str,
        keys: Collection[str] | None = None,
    ) -> None:
        self._kafka = kafka
        self._topic = topic
        # Only the records of these keys (départements), when given: the others are
        # counted as read and skipped unparsed.
        self._keys = {k.encode() for k in keys} if keys is not None else None
        self._models = {m.event_type: m for m in EVENT_MODELS if m.event_type in event_types}
        self._client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._ends: dict[TopicPartition, int] = {}
        self.total = 0
        self.read = 0
        self.rejected = 0

    async def __aenter__(self) -> TopicReplay:
        known = await self._partitions()
        if not known:
            raise LookupError(f"topic {self._topic} does not exist")
        consumer = AIOKafkaConsumer(
            **client_options(self._kafka),
            client_id=self._client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=2000,
        )
        await consumer.start()
        self._consumer = consumer
        assigned = [TopicPartition(self._topic, p) for p in sorted(known)]
        consumer.assign(assigned)
        starts = await consumer.beginning_offsets(assigned)
        self._ends = {tp: end for tp, end in (await consumer.end_offsets(assigned)).items()}
        self.total = sum(self._ends[tp] - starts[tp] for tp in assigned)
        # Explicit offsets, not seek_to_beginning(): that one is a lazy reset, which the
        # reset started by assign() could overtake.
        for tp in assigned:
            consumer.seek(tp, starts[tp])
        return self

    async def _partitions(self) -> list[int]:
        admin = AIOKafkaAdminClient(**client_options(self._kafka), client_id=self._client_id)
        await admin.start()
        try:
            described = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        return sorted(
            p["partition"]
            for t in described
            if t["topic"] == self._topic and not t["error_code"]
            for p in t["partitions"]
        )

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def batches(self) -> AsyncIterator[list[Replayed]]:
        """The records of the topic, batch after batch, until the end offsets seen at start."""
        consumer = self._consumer
        assert consumer is not None, "use TopicReplay in an async with"
        pending = {tp for tp, end in self._ends.items() if end > await consumer.position(tp)}
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000)
            batch: list[Replayed] = []
            for tp, records in fetched.items():
                end = self._ends[tp]
                for record in records:
                    if record.offset >= end:
                        break
                    self.read += 1
                    parsed = self._parse(record)
                    if parsed is not None:
                        batch.append(parsed)
                if await consumer.position(tp) >= end:
                    pending.discard(tp)
            yield batch

    def _parse(self, record: Any) -> Replayed | None:
        if self._keys is not None and record.key not in self._keys:
            return None
        try:
            headers = decode_headers(record.headers or ())
            model = self._models.get(headers.get(H_TYPE, ""))
            if model is None:
                return None
            envelope = Envelope.from_headers(headers)
            return Replayed(envelope, model.model_validate_json(record.value or b""))
        except (InvalidEnvelope, ValidationError):
            # What the live subscriber dead-lettered is skipped here too, and counted.
            self.rejected += 1
            return None
