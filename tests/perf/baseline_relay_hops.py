"""The hop topics of the baseline benchmark and what the driver reads from them: the
records' copies per hop, their latencies, the relays' consumer groups."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import DEFAULT_PARTITIONS
from shared.messaging.acls import ADMIN
from shared.messaging.broker import client_options
from shared.settings import KafkaSettings
from stack.harness.follower import Follower
from stack.harness.kafka_groups import describe_consumer_groups
from stack.harness.measures import latency_summary


def all_arrived(tap: HopTap, items: list[Item]) -> bool:
    return tap.arrived(items) == len(items)


def hop_topic(i: int) -> str:
    return f"bench.hop{i}"


@dataclass
class Item:
    id: str
    key: str
    scheduled_at: float = 0.0
    produced: bool = False
    seen: dict[int, float] = field(default_factory=dict)  # hop -> Kafka timestamp (s)


class HopTap(Follower):
    def __init__(self, kafka: KafkaSettings, hops: int, run_id: str) -> None:
        self._hop_of = {hop_topic(i): i for i in range(hops + 1)}
        super().__init__(kafka, self._hop_of)
        self.hops = hops
        self.run_id = run_id
        self.items: dict[str, Item] = {}

    def file(self, record: ConsumerRecord[Any, Any], now: float) -> None:
        body = json.loads(record.value)
        item = self.items.get(body.get("id"))
        if item is not None:
            item.seen.setdefault(self._hop_of[record.topic], record.timestamp / 1000)

    def arrived(self, items: list[Item]) -> int:
        return sum(1 for i in items if self.hops in i.seen)


async def create_topics(kafka: KafkaSettings, hops: int) -> None:
    admin = AIOKafkaAdminClient(**client_options(kafka.principal(ADMIN)))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [hop_topic(i) for i in range(hops + 1) if hop_topic(i) not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(t, num_partitions=DEFAULT_PARTITIONS, replication_factor=1)
                        for t in missing
                    ]
                )
    finally:
        await admin.close()


def analyse(items: list[Item], hops: int, started: float, cpu: dict[str, float]) -> dict[str, Any]:
    done = [i for i in items if hops in i.seen]
    e2e = [1000 * (i.seen[hops] - i.scheduled_at) for i in done]
    per_hop: dict[str, Any] = {
        "produce (scheduled→hop0)": latency_summary(
            [1000 * (i.seen[0] - i.scheduled_at) for i in done if 0 in i.seen]
        )
    }
    for h in range(1, hops + 1):
        per_hop[f"relay {h} (hop{h - 1}→hop{h})"] = latency_summary(
            [1000 * (i.seen[h] - i.seen[h - 1]) for i in done if h - 1 in i.seen]
        )
    last = max((i.seen[hops] for i in done), default=started)
    seconds = max(1e-9, last - started)
    relays_cpu = sum(v for k, v in cpu.items() if k.startswith("relay"))
    return {
        "offered": len(items),
        "completed": len(done),
        "lost": len(items) - len(done),
        "seconds": round(seconds, 2),
        "throughput_per_s": round(len(done) / seconds, 1),
        "e2e_ms": latency_summary(e2e),
        "hops_ms": per_hop,
        "cpu_seconds": cpu,
        "cpu_ms_per_flow_relays": round(1000 * relays_cpu / max(1, len(done)), 2),
    }


async def wait_groups_stable(
    kafka: KafkaSettings, groups: list[str], timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        described = await describe_consumer_groups(kafka, groups)
        if all(
            d["state"] == "Stable"
            and sum(len(p) for m in d["members"] for p in m["partitions"].values())
            == DEFAULT_PARTITIONS
            for d in described.values()
        ) and len(described) == len(groups):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"relay groups not stable: {described}")
        await asyncio.sleep(0.5)


def summary_line(phase: dict[str, Any]) -> str:
    e2e = phase["e2e_ms"]
    return (
        f"{phase['completed']}/{phase['offered']} in {phase['seconds']} s, "
        f"{phase['throughput_per_s']}/s, e2e p50 {e2e.get('p50')} ms p99 {e2e.get('p99')} ms "
        f"p99.9 {e2e.get('p99.9')} ms"
    )
