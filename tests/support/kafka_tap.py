"""Reads what a test caused on a topic: every record written after the tap opened."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.messaging.acls import ADMIN
from shared.messaging.broker import client_options
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


def by_request(records: list[Record], ours: set[str]) -> dict[str, list[Record]]:
    """Our records on a shared topic, by the demande they are about (others' are left out)."""
    found: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        try:
            request_id = str(r.json().get("request_id"))
        except (ValueError, AttributeError):
            continue
        if request_id in ours:
            found[request_id].append(r)
    return found


class TopicTap:
    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        # The admin principal: a test reads whatever topic it checks.
        self._options = client_options(kafka.principal(ADMIN))
        self.topic = topic
        self._consumer: AIOKafkaConsumer | None = None
        self.records: list[Record] = []

    async def __aenter__(self) -> Self:
        consumer = AIOKafkaConsumer(**self._options, enable_auto_commit=False)
        await consumer.start()
        self._consumer = consumer
        admin = AIOKafkaAdminClient(**self._options)
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


async def publish_raw(
    kafka: KafkaSettings,
    topic: str,
    messages: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
) -> None:
    """Publish records exactly as given (key, value, headers), bypassing our envelope code."""
    producer = AIOKafkaProducer(
        **client_options(kafka.principal(ADMIN)),
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
