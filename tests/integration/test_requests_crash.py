"""Crash safety of the requests service: ``kill -9`` while demandes pour in, then a restart.

Every demande the API acknowledged must be in the database and on the topic;
none is lost. The outbox relay delivers at least once, so a record published
just before the kill may go out again after the restart: such duplicates must
carry the same ``ce_id`` (consumers deduplicate on it), and they are counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.tokens import Role
from shared.contracts.topics import REQUESTS_REQUEST
from shared.refdata import get_territories
from shared.settings import KafkaSettings
from stack.harness.databases import plain_dsn
from tests.perf.result_file import write
from tests.support.crash_run import crash_start
from tests.support.kafka_tap import Record, TopicTap, by_request
from tests.support.own_process import service_process, wait_outbox_drained
from tests.support.submissions import demande_body
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

TOTAL = 1_000
CONCURRENCY = 20
KILL_AFTER = (300, 600)
DEPARTEMENTS = ("49", "44", "35", "29", "2A", "974")
COMMUNES_PER_DEPARTEMENT = 40
RESULTS = Path(__file__).resolve().parents[1] / "perf" / "results" / "requests_crash.json"


@dataclass(frozen=True)
class Submission:
    key: str
    departement: str
    commune: str
    n: int

    def json(self) -> dict[str, Any]:
        return demande_body(
            requester_code=self.commune,
            title=f"Demande de crash-test n° {self.n}",
            themes=[["energie"], ["urbanisme"], ["mobilite"]][self.n % 3],
        )


@dataclass
class Outcome:
    acknowledged: dict[str, int] = field(default_factory=dict)  # id -> HTTP status
    lost_in_crash: set[str] = field(default_factory=set)  # transport errors
    refused: dict[str, str] = field(default_factory=dict)  # unexpected HTTP answers


def plan(rng: random.Random) -> list[Submission]:
    territories = get_territories()
    pool: list[tuple[str, str]] = []
    for dep in DEPARTEMENTS:
        communes = [c.code_insee for c in territories.communes_of(dep)]
        assert communes, f"no commune for département {dep}"
        pool += [
            (dep, code)
            for code in rng.sample(communes, min(len(communes), COMMUNES_PER_DEPARTEMENT))
        ]
    return [
        Submission(str(uuid.UUID(int=rng.getrandbits(128), version=4)), dep, code, n)
        for n, (dep, code) in enumerate(rng.choices(pool, k=TOTAL))
    ]


async def submit_all(
    client: httpx.AsyncClient,
    submissions: list[Submission],
    tokens: dict[str, dict[str, str]],
    outcome: Outcome,
    on_ack: Callable[[], None] = lambda: None,
) -> None:
    queue: asyncio.Queue[Submission] = asyncio.Queue()
    for s in submissions:
        queue.put_nowait(s)

    async def worker() -> None:
        while True:
            try:
                s = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            headers = tokens[s.departement] | {"Idempotency-Key": s.key}
            try:
                response = await client.post("/v1/requests", json=s.json(), headers=headers)
            except httpx.TransportError:
                outcome.lost_in_crash.add(s.key)
                continue
            if response.status_code in (200, 201) and response.json()["id"] == s.key:
                outcome.acknowledged[s.key] = response.status_code
                outcome.lost_in_crash.discard(s.key)
                on_ack()
            else:
                outcome.refused[s.key] = f"{response.status_code} {response.text[:300]}"

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def test_kill_9_during_submissions_loses_no_demande(
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
    tmp_path: Path,
) -> None:
    lap, seed, rng, kill_after = crash_start(KILL_AFTER)
    submissions = plan(rng)
    every_id = {s.key for s in submissions}
    tokens = {dep: bearer(Role.DEPARTEMENT, dep) for dep in DEPARTEMENTS}

    database_url = await fresh_database("requests_crash")
    service = service_process("requests", database_url, kafka_topics, tmp_path, purpose="crash")
    outcome = Outcome()
    try:
        await service.start()
        await service.wait_ready()
        lap("first_start")
        first_pid = service.pid

        async with TopicTap(kafka_topics, REQUESTS_REQUEST.name) as tap:
            # Phase 1: submissions, and kill -9 of the service right after the n-th ack.
            acks = 0

            def on_ack() -> None:
                nonlocal acks
                acks += 1
                if acks == kill_after:
                    service_pid = service.pid
                    assert service_pid == first_pid
                    os.kill(service_pid, signal.SIGKILL)

            limits = httpx.Limits(
                max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY
            )
            async with httpx.AsyncClient(
                base_url=service.base_url, timeout=15.0, limits=limits
            ) as client:
                await submit_all(client, submissions, tokens, outcome, on_ack)
            lap("submit_and_kill")
            await service.kill()  # reaps the killed process
            assert not outcome.refused, f"refused before the kill: {outcome.refused}"
            acknowledged_before_kill = set(outcome.acknowledged)
            unacknowledged = every_id - acknowledged_before_kill
            assert acks >= kill_after, "the kill happened before the planned moment"
            assert unacknowledged, "the kill came too late: every demande was acknowledged"

            # Phase 2: restart on the same database and group; the client retries what failed.
            await service.start()
            # The restarted instance joins the consumer group only once the broker has
            # evicted the killed member (session timeout, 30 s): startup waits for that.
            await service.wait_ready(timeout=75.0)
            lap("restart")
            assert service.pid != first_pid
            retry = [s for s in submissions if s.key in unacknowledged]
            retried = Outcome()
            async with httpx.AsyncClient(
                base_url=service.base_url, timeout=15.0, limits=limits
            ) as client:
                await submit_all(client, retry, tokens, retried)
            lap("retry")
            assert not retried.refused, f"retries refused: {retried.refused}"
            assert not retried.lost_in_crash, f"retries failed: {sorted(retried.lost_in_crash)}"
            assert set(retried.acknowledged) == unacknowledged
            acknowledged = acknowledged_before_kill | set(retried.acknowledged)
            assert acknowledged == every_id
            # A retry answered 200 found its demande already stored: committed, answer lost.
            committed_unanswered = sum(1 for st in retried.acknowledged.values() if st == 200)

            # Phase 3: every acknowledged demande reaches the topic.
            seen: set[str] = set()
            scanned = 0

            def all_published(records: list[Record]) -> bool:
                nonlocal scanned
                seen.update(by_request(records[scanned:], acknowledged))
                scanned = len(records)
                return seen >= acknowledged

            try:
                records = await tap.collect(all_published, timeout=45.0, settle=1.5)
            except TimeoutError as exc:
                missing = sorted(acknowledged - seen)
                raise AssertionError(
                    f"{len(missing)} acknowledged demandes never reached the topic, "
                    f"e.g. {missing[:5]}\n{service.log_tail()}"
                ) from exc
            lap("until_all_on_topic")

        dsn = plain_dsn(database_url)
        unpublished, _ = await wait_outbox_drained(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            stored = [str(r["id"]) for r in await conn.fetch("SELECT id FROM demandes")]
            outbox_rows = await conn.fetch(
                "SELECT event_id, payload FROM outbox "
                "WHERE event_type = 'requests.request.submitted.v2'"
            )
        finally:
            await conn.close()
        outbox_event: dict[str, list[str]] = defaultdict(list)
        for row in outbox_rows:
            outbox_event[json.loads(row["payload"])["request_id"]].append(row["event_id"])
    finally:
        await service.stop()

    on_topic = by_request(records, every_id)
    duplicates = {rid: len(copies) for rid, copies in on_topic.items() if len(copies) > 1}
    duplicated_ids = {
        rid: {"copies": n, "ce_id": on_topic[rid][0].headers["ce_id"]}
        for rid, n in sorted(duplicates.items())
    }
    summary = {
        "seed": seed,
        "submitted": TOTAL,
        "kill_after_acks": kill_after,
        "acknowledged_before_kill": len(acknowledged_before_kill),
        "retried": len(unacknowledged),
        "retried_already_committed": committed_unanswered,
        "in_database": len(stored),
        "on_topic_distinct": len(on_topic),
        "on_topic_records": sum(len(c) for c in on_topic.values()),
        "duplicates": len(duplicates),
        "duplicate_copies": sum(n - 1 for n in duplicates.values()),
        "unpublished_outbox_rows": unpublished,
        "seconds": lap.seconds,
        "phase_seconds": lap.phases,
        "duplicated_ids": duplicated_ids,
    }
    print(
        f"\nrequests crash: acknowledged before kill {summary['acknowledged_before_kill']}"
        f"/{TOTAL} (kill after {kill_after} acks), retried {summary['retried']}"
        f" ({committed_unanswered} already committed), in database {len(stored)},"
        f" on topic {summary['on_topic_distinct']} distinct / {summary['on_topic_records']}"
        f" records, duplicates {summary['duplicates']}"
        f" (+{summary['duplicate_copies']} copies), seed {seed},"
        f" {summary['seconds']} s {lap.phases}"
    )
    for rid, dup in duplicated_ids.items():
        print(f"  duplicate {rid}: {dup['copies']} copies, ce_id {dup['ce_id']}")
    write(RESULTS, summary)

    # Every acknowledged demande is stored exactly once, and nothing else is.
    assert len(stored) == len(set(stored)) == TOTAL
    assert set(stored) == acknowledged
    # Every acknowledged demande is on the topic, and no stored demande lacks its event.
    assert acknowledged - on_topic.keys() == set()
    assert set(stored) - on_topic.keys() == set()
    # One outbox row (one event id) per demande; every copy on the topic carries it.
    assert {rid: len(ids) for rid, ids in outbox_event.items() if len(ids) != 1} == {}
    for rid, copies in on_topic.items():
        ce_ids = {r.headers["ce_id"] for r in copies}
        assert len(ce_ids) == 1, f"{rid}: {len(copies)} copies with different ce_id {ce_ids}"
        assert ce_ids == set(outbox_event[rid]), f"{rid}: ce_id {ce_ids} on the topic"
        assert {r.key for r in copies} == {copies[0].json()["departement"].encode()}
    assert unpublished == 0, f"{unpublished} outbox rows never published"
