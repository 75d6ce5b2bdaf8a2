"""Reads what a test caused on a topic: every record written after the tap opened."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.topics import DEFAULT_PARTITIONS
from shared.settings import KafkaSettings


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.value)


class TopicTap:
    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self._kafka = kafka
        self.topic = topic
        self._consumer: AIOKafkaConsumer | None = None
        self.records: list[Record] = []

    async def __aenter__(self) -> Self:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        self._consumer = consumer
        admin = AIOKafkaAdminClient(bootstrap_servers=self._kafka.bootstrap_servers)
        await admin.start()
        try:
            [described] = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        partitions = [p["partition"] for p in described["partitions"]]
        assert partitions, f"topic {self.topic} does not exist"
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, ends[tp])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def collect(
        self,
        until: Callable[[list[Record]], bool],
        timeout: float = 30.0,
        settle: float = 0.0,
    ) -> list[Record]:
        """Read until ``until(records)`` holds, then ``settle`` seconds more to catch extras."""
        assert self._consumer is not None
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while True:
            now = time.monotonic()
            if settle_until is None and until(self.records):
                settle_until = now + settle
            if settle_until is not None and now >= settle_until:
                return self.records
            if now >= deadline:
                raise TimeoutError(
                    f"{self.topic}: condition not met after {timeout}s "
                    f"({len(self.records)} records read)"
                )
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    self.records.append(
                        Record(
                            topic=r.topic,
                            partition=r.partition,
                            offset=r.offset,
                            key=r.key,
                            value=r.value or b"",
                            headers={k: v.decode("utf-8", "replace") for k, v in (r.headers or ())},
                        )
                    )


class Follower(ABC):
    """Reads ``topics`` from their end in the background; a subclass files each record."""

    def __init__(self, kafka: KafkaSettings, topics: Iterable[str]) -> None:
        self._kafka = kafka
        self._topics = tuple(topics)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            max_poll_records=2000,
        )
        await consumer.start()
        assigned = [
            TopicPartition(topic, p)
            for topic in self._topics
            for p in sorted(consumer.partitions_for_topic(topic) or range(DEFAULT_PARTITIONS))
        ]
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, ends[tp])
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name=f"follow-{type(self).__name__}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.time()
            for records in batch.values():
                for record in records:
                    self.file(record, now)

    @abstractmethod
    def file(self, record: ConsumerRecord[Any, Any], now: float) -> None:
        """Take note of one record, read at ``now`` (epoch seconds)."""


async def publish_raw(
    kafka: KafkaSettings,
    topic: str,
    messages: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
) -> None:
    """Publish records exactly as given (key, value, headers), bypassing our envelope code."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        max_request_size=5 * 1024 * 1024,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in messages
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
