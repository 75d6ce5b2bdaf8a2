"""A background reader of the product's topics, from their end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.contracts.topics import DEFAULT_PARTITIONS
from shared.messaging.acls import ADMIN
from shared.messaging.broker import client_options
from shared.settings import KafkaSettings


class Follower(ABC):
    """Reads ``topics`` from their end in the background; a subclass files each record."""

    def __init__(self, kafka: KafkaSettings, topics: Iterable[str]) -> None:
        self._kafka = kafka
        self._topics = tuple(topics)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            **client_options(self._kafka.principal(ADMIN)),
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
