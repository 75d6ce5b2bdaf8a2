"""Consumer offsets, committed in the background a few times a second.

A subscriber marks a record processed once its database transaction has
committed; :meth:`OffsetCommits.flush` sends them to Kafka together, per consumer
(a periodic job of the runtime, every ``MG_KAFKA_OFFSET_COMMIT_INTERVAL_SECONDS``),
and when partitions are revoked. One synchronous commit
per record cost more than the handling itself (ADR 0010). A crash between the
database commit and the offset commit redelivers at most that window of
records, which the inbox (``processed_events``) recognises and skips.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from shared.observability.logging import get_logger
from shared.observability.metrics import OFFSET_COMMITS

log = get_logger(__name__)


class OffsetCommits:
    def __init__(self, service: str) -> None:
        self._service = service
        self._pending: dict[AIOKafkaConsumer, dict[TopicPartition, int]] = {}
        self._lock = asyncio.Lock()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.closing = False

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Around each record's handling, so that :meth:`drain` knows when none is left."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self, patience_seconds: float) -> None:
        """On shutdown: take no new record, let the current ones finish, commit them all."""
        self.closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), patience_seconds)
        await self.flush()

    def processed(
        self, consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int
    ) -> None:
        """The record at ``offset`` is done: the group may resume after it."""
        pending = self._pending.setdefault(consumer, {})
        tp = TopicPartition(topic, partition)
        pending[tp] = max(pending.get(tp, 0), offset + 1)

    @staticmethod
    def rewind(consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int) -> None:
        """The record at ``offset`` must be delivered again: fetch its partition from it."""
        with contextlib.suppress(IllegalStateError):
            # Not ours any more after a rebalance: its new owner starts from the commit.
            consumer.seek(TopicPartition(topic, partition), offset)

    async def flush(self) -> None:
        async with self._lock:
            pending, self._pending = self._pending, {}
            for consumer, done in pending.items():
                owned = consumer.assignment()
                offsets = {tp: offset for tp, offset in done.items() if tp in owned}
                if not offsets:
                    continue
                try:
                    await consumer.commit(offsets)
                    OFFSET_COMMITS.labels(self._service, "committed").inc()
                except (CommitFailedError, IllegalStateError) as exc:
                    # The group moved on: the partitions' new owners redeliver, the inbox skips.
                    OFFSET_COMMITS.labels(self._service, "abandoned").inc()
                    log.info("offsets abandoned after a rebalance", error=repr(exc))
                except KafkaError as exc:
                    OFFSET_COMMITS.labels(self._service, "failed").inc()
                    log.warning("offset commit failed, will retry", error=repr(exc))
                    self._merge_back(consumer, offsets)

    def _merge_back(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        pending = self._pending.setdefault(consumer, {})
        for tp, offset in offsets.items():
            pending[tp] = max(pending.get(tp, 0), offset)

    def listener(self) -> ConsumerRebalanceListener:
        """Commits what is done before partitions move, so their new owner need not skip it."""
        return _FlushOnRevoke(self)


class _FlushOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, commits: OffsetCommits) -> None:
        self._commits = commits

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            await self._commits.flush()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None
