"""The baseline of the pipeline benchmark: plain aiokafka relays, no database.

    .venv/bin/python -m tests.perf.bench_baseline_relay [--hops 4 --rate 20 --duration 30
        --count 1000 --mode per-message|batch]

Topics ``bench.hop0`` … ``bench.hop<K>`` (12 partitions, created with the admin client);
one relay process per hop consumes ``hop<i>`` and produces ``hop<i+1>`` with the
product's producer settings (``acks=all``, idempotence, ``linger_ms=0``), then commits
the offset by hand:

- ``per-message`` (default): one record at a time, produce awaited, offset committed,
  the way every subscriber of the product handles a record (FastStream awaits the
  handler, then commits), minus the database;
- ``batch``: what a relay written for throughput would do: up to 500 records per
  poll, produced together, one commit per poll.

The driver produces records keyed by the same départements as the pipeline's demandes
(so the same partitions), at the same sustained rate and then the same saturation
count, and reads every hop topic: the Kafka timestamps of a record's copies give the
per-hop latencies, the last one the end-to-end latency, measured from the moment the
record was scheduled exactly as the pipeline's are.

Run alone it writes ``tests/perf/results/baseline_relay.json``; ``bench_pipeline``
runs it in the same run as the pipeline and writes both into ``pipeline.json``.
Each relay is a ``tests.perf.baseline_relay_process``; the hop topics, the tap that reads
them and the analysis are in ``tests.perf.baseline_relay_hops``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.messaging.acls import ADMIN
from shared.messaging.broker import client_options
from shared.settings import KafkaSettings
from stack.harness.flows import wait_until
from stack.harness.measures import latency_summary
from stack.harness.process import ROOT, ServiceProcess
from stack.harness.resources import ResourceSampler, cpu_delta, find_kafka_pid
from stack.harness.stack import DEFAULT_DEPARTEMENTS
from tests.perf.baseline_relay_hops import (
    HopTap,
    Item,
    all_arrived,
    analyse,
    create_topics,
    hop_topic,
    summary_line,
    wait_groups_stable,
)

RESULTS = Path(__file__).resolve().parent / "results" / "baseline_relay.json"
MODES = ("per-message", "batch")


async def run_baseline(
    kafka: KafkaSettings,
    *,
    hops: int,
    rate: float,
    duration: float,
    count: int,
    concurrency: int,
    mode: str = "per-message",
    departements: tuple[str, ...] = DEFAULT_DEPARTEMENTS,
    run_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start ``hops`` relays, then the sustained phase and the saturation phase."""
    run_id = uuid.uuid4().hex[:8]
    run_dir = run_dir or ROOT / ".local" / "stack" / f"baseline-{run_id}"
    run_dir.mkdir(parents=True, exist_ok=True)
    await create_topics(kafka, hops)
    groups = [f"bench-relay-{run_id}-{h}" for h in range(1, hops + 1)]
    relays = [
        ServiceProcess(
            "tests.perf.baseline_relay_process",
            env={
                "BENCH_RELAY_SOURCE": hop_topic(h - 1),
                "BENCH_RELAY_TARGET": hop_topic(h),
                "BENCH_RELAY_GROUP": groups[h - 1],
                "BENCH_RELAY_MODE": mode,
                "MG_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            },
            port=0,
            log_path=run_dir / f"relay-{h}.log",
        )
        for h in range(1, hops + 1)
    ]
    sampler = ResourceSampler()
    sampler_task: asyncio.Task[None] | None = None
    tap = HopTap(kafka, hops, run_id)
    producer = AIOKafkaProducer(
        **client_options(kafka.principal(ADMIN)), acks="all", enable_idempotence=True, linger_ms=0
    )
    result: dict[str, Any] = {"mode": mode, "hops": hops, "relay_processes": hops}
    try:
        for h, process in enumerate(relays, start=1):
            await process.start()
            sampler.watch_process(f"relay{h}", process.pid)
        sampler.watch_process("driver", os.getpid())
        kafka_pid = find_kafka_pid()
        if kafka_pid is not None:
            sampler.watch_process("kafka (shared broker)", kafka_pid)
        sampler_task = asyncio.create_task(sampler.run())
        await wait_groups_stable(kafka, groups)
        await tap.start()
        await producer.start()
        n = 0

        def new_item() -> Item:
            nonlocal n
            item = Item(id=uuid.uuid4().hex, key=departements[n % len(departements)])
            n += 1
            tap.items[item.id] = item
            return item

        async def produce(item: Item, at: float) -> None:
            item.scheduled_at = at
            body = json.dumps({"id": item.id, "run": run_id, "t": at}).encode()
            await producer.send_and_wait(hop_topic(0), body, key=item.key.encode())
            item.produced = True

        # Warm-up: every key's partition on every hop has a positioned consumer.
        for _attempt in range(10):
            warm = [new_item() for _ in departements]
            for item in warm:
                await produce(item, time.time())
            if await wait_until(partial(all_arrived, tap, warm), timeout=8.0):
                break
        else:
            raise RuntimeError("the relays never passed the warm-up records on")
        log(f"baseline ({mode}): {hops} relays ready")

        # Sustained.
        items = [new_item() for _ in range(int(rate * duration))]
        cpu0 = sampler.cpu_seconds()
        sampler.reset_peaks()
        start = time.time() + 0.2
        tasks = []
        for k, item in enumerate(items):
            at = start + k / rate
            await asyncio.sleep(max(0.0, at - time.time()))
            tasks.append(asyncio.create_task(produce(item, at)))
        await asyncio.gather(*tasks)
        await wait_until(lambda: tap.arrived(items) == len(items), timeout=60.0)
        sustained = analyse(items, hops, start, cpu_delta(cpu0, sampler.cpu_seconds()))
        sustained |= {"rate": rate, "duration": duration, "peak_rss_mib": sampler.peak_rss_mib()}
        log(f"baseline sustained: {summary_line(sustained)}")
        result["sustained"] = sustained

        # Saturation.
        if count > 0:
            items = [new_item() for _ in range(count)]
            cpu0 = sampler.cpu_seconds()
            sampler.reset_peaks()
            start = time.time()
            semaphore = asyncio.Semaphore(concurrency)

            async def bounded(item: Item) -> None:
                async with semaphore:
                    await produce(item, time.time())

            await asyncio.gather(*(bounded(i) for i in items))
            await wait_until(lambda: tap.arrived(items) == len(items), timeout=60.0)
            saturation = analyse(items, hops, start, cpu_delta(cpu0, sampler.cpu_seconds()))
            saturation |= {"concurrency": concurrency, "peak_rss_mib": sampler.peak_rss_mib()}
            log(f"baseline saturation: {summary_line(saturation)}")
            result["saturation"] = saturation
    finally:
        await producer.stop()
        await tap.stop()
        await asyncio.gather(*(p.stop() for p in relays), return_exceptions=True)
        if sampler_task is not None:
            sampler_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler_task
    return result


async def round_trips(kafka: KafkaSettings, n: int = 200) -> dict[str, Any]:
    """What one record costs a per-message relay, from the client: an awaited produce
    (``acks=all``, idempotent) with ``linger_ms`` 0 and 2, and an awaited offset commit."""
    topic = hop_topic(0)
    await create_topics(kafka, 0)
    out: dict[str, Any] = {}
    for linger in (0, 2):
        producer = AIOKafkaProducer(
            **client_options(kafka.principal(ADMIN)),
            acks="all",
            enable_idempotence=True,
            linger_ms=linger,
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"{}", key=b"49")
            times = []
            for _ in range(n):
                t = time.perf_counter()
                await producer.send_and_wait(topic, b"{}", key=b"49")
                times.append(1000 * (time.perf_counter() - t))
        finally:
            await producer.stop()
        out[f"produce acks=all linger_ms={linger}"] = latency_summary(times)
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(kafka.principal(ADMIN)),
        group_id=f"bench-round-trips-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        tp = sorted(consumer.assignment())[0]
        times = []
        for k in range(n):
            t = time.perf_counter()
            await consumer.commit({tp: k % 2})
            times.append(1000 * (time.perf_counter() - t))
    finally:
        await consumer.stop()
    out["offset commit"] = latency_summary(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hops", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--mode", choices=MODES, default="per-message")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--round-trips",
        action="store_true",
        help="only measure one awaited produce and one offset commit, 200 times each",
    )
    args = parser.parse_args()
    if args.round_trips:
        print(json.dumps(asyncio.run(round_trips(KafkaSettings())), indent=2))
        return
    result = asyncio.run(
        run_baseline(
            KafkaSettings(),
            hops=args.hops,
            rate=args.rate,
            duration=args.duration,
            count=args.count,
            concurrency=args.concurrency,
            mode=args.mode,
        )
    )
    result = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count()} | result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
