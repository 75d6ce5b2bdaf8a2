"""One relay of the baseline benchmark: consumes a hop topic, produces the next one with the
product's producer settings, commits the offset by hand.

    .venv/bin/python -m tests.perf.baseline_relay_process

with ``BENCH_RELAY_SOURCE``, ``BENCH_RELAY_TARGET``, ``BENCH_RELAY_GROUP`` and
``BENCH_RELAY_MODE`` (``per-message``, the default, or ``batch``) in its environment.
``bench_baseline_relay`` starts one per hop; see its docstring for the two modes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.messaging.acls import ADMIN
from shared.messaging.broker import client_options
from shared.settings import KafkaSettings


async def relay(kafka: KafkaSettings, source: str, target: str, group: str, mode: str) -> None:
    consumer = AIOKafkaConsumer(
        source,
        **client_options(kafka.principal(ADMIN)),
        group_id=group,
        client_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
    )
    producer = AIOKafkaProducer(
        **client_options(kafka.principal(ADMIN)),
        client_id=group,
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
    )
    await producer.start()
    await consumer.start()
    try:
        if mode == "per-message":
            while True:
                record = await consumer.getone()
                await producer.send_and_wait(
                    target, record.value, key=record.key, headers=list(record.headers or ())
                )
                tp = TopicPartition(record.topic, record.partition)
                await consumer.commit({tp: record.offset + 1})
        else:
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=500)
                if not batch:
                    continue
                pending = [
                    await producer.send(target, r.value, key=r.key, headers=list(r.headers or ()))
                    for records in batch.values()
                    for r in records
                ]
                await asyncio.gather(*pending)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def relay_main() -> None:
    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await relay(
                KafkaSettings(),
                os.environ["BENCH_RELAY_SOURCE"],
                os.environ["BENCH_RELAY_TARGET"],
                os.environ["BENCH_RELAY_GROUP"],
                os.environ.get("BENCH_RELAY_MODE", "per-message"),
            )

    asyncio.run(run())


if __name__ == "__main__":
    relay_main()
