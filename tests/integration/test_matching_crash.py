"""Crash safety of the matching service: ``kill -9`` while it routes demandes, then a restart.

Every demande submitted on ``requests.request.v1`` must be proposed exactly once:
no demande lost in the crash, none proposed twice, not even when its event is
delivered again (same ``ce_id``). The outbox relay publishes at least once, so
a proposal published just before the kill may go out again after the restart:
such copies carry the same ``ce_id`` and the same ``assignment_id``; they are
counted and allowed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.tokens import Role
from shared.contracts.matching import AssignmentProposed, RequestUnmatched
from shared.contracts.requests import RequestSubmitted, RequestWithdrawn
from shared.contracts.topics import MATCHING_ASSIGNMENT, REQUESTS_REQUEST
from shared.contracts.vocabulary import Theme
from shared.refdata import get_territories
from shared.settings import KafkaSettings
from stack.harness.databases import plain_dsn
from tests.perf.result_file import write
from tests.support import events
from tests.support.crash_run import crash_start
from tests.support.kafka_tap import Record, TopicTap, by_request, publish_raw
from tests.support.own_process import UNPUBLISHED, service_process, wait_outbox_drained
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

TOTAL = 1_000
BATCHES = 4
REDELIVERED = 50
KILL_AFTER = (200, 500)  # proposals seen on the topic when the service is killed
DEPARTEMENT = "49"
KEY = DEPARTEMENT.encode()
SUBMITTED = RequestSubmitted.event_type
PROPOSED = AssignmentProposed.event_type
UNMATCHED = RequestUnmatched.event_type
RESULTS = Path(__file__).resolve().parents[1] / "perf" / "results" / "matching_crash.json"

Message = events.Raw


def catalogue() -> dict[str, Any]:
    """Three actors of the 49 who can each take every demande: a chain of one, always."""
    return {
        "departement": DEPARTEMENT,
        "actors": [
            {
                "id": f"crash49-{n}",
                "name": f"Acteur de crash-test {n}",
                "kind": "caue",
                "themes": {"architecture_paysage": 3},
                "phases": ["faisabilite"],
                "territory": {"departements": [DEPARTEMENT]},
                "capacity": 1_000,
            }
            for n in range(1, 4)
        ],
    }


def plan(rng: random.Random) -> list[Message]:
    """``TOTAL`` submitted events, as the requests service would have published them."""
    communes = get_territories().communes_of(DEPARTEMENT)
    assert communes, f"no commune for département {DEPARTEMENT}"
    now = datetime.now(UTC)
    planned = []
    for n, commune in enumerate(rng.choices(communes, k=TOTAL)):
        event = events.request_submitted(
            request_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            departement=DEPARTEMENT,
            requester=events.commune_requester(commune),
            title=f"Demande de crash-test n° {n}",
            themes=[Theme.ARCHITECTURE_PAYSAGE],
            submitted_at=now,
        )
        planned.append(events.as_record(event)[1])
    return planned


def request_id_of(m: Message) -> str:
    assert m[1] is not None
    return str(json.loads(m[1])["request_id"])


def ce_id_of(m: Message) -> str:
    return dict(m[2])["ce_id"].decode()


class Proposals:
    """Our records on the shared assignment topic, indexed as they arrive."""

    def __init__(self, ours: set[str]) -> None:
        self.ours = ours
        self.records: dict[str, list[Record]] = defaultdict(list)  # request id -> records
        self.scanned = 0

    def update(self, records: list[Record]) -> int:
        for request_id, ours in by_request(records[self.scanned :], self.ours).items():
            self.records[request_id].extend(ours)
        self.scanned = len(records)
        return len(self.records)

    def at_least(self, n: int) -> Callable[[list[Record]], bool]:
        return lambda records: self.update(records) >= n


async def wait_processed(dsn: str, event_id: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(dsn)
    try:
        while time.monotonic() < deadline:
            if await conn.fetchval("SELECT 1 FROM processed_events WHERE event_id = $1", event_id):
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await conn.close()


async def probe(kafka: KafkaSettings, dsn: str, *, attempts: int, wait: float) -> int:
    """Publish a harmless event (withdrawal of an unknown demande) until the service has
    recorded one: then it consumes, and everything published before it on the partition
    was handled. Returns how many probes it took."""
    for n in range(1, attempts + 1):
        event = RequestWithdrawn(
            request_id=uuid.uuid4(),
            departement=DEPARTEMENT,
            requester_code="49007",
            reason="Sonde du test de crash.",
            withdrawn_at=datetime.now(UTC),
        )
        envelope, record = events.as_record(event)
        await publish_raw(kafka, REQUESTS_REQUEST.name, [record])
        if await wait_processed(dsn, envelope.id, wait):
            return n
    raise AssertionError(f"the matching service consumed none of {attempts} probes")


async def count(dsn: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def test_kill_9_while_matching_proposes_every_demande_exactly_once(
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
    tmp_path: Path,
) -> None:
    lap, seed, rng, kill_after = crash_start(KILL_AFTER)
    planned = plan(rng)
    every_id = {request_id_of(m) for m in planned}
    our_ce_ids = [ce_id_of(m) for m in planned]
    assert len(every_id) == TOTAL
    proposals = Proposals(every_id)

    database_url = await fresh_database("matching_crash")
    dsn = plain_dsn(database_url)
    service = service_process("matching", database_url, kafka_topics, tmp_path, purpose="crash")
    try:
        await service.start()
        await service.wait_ready()
        first_pid = service.pid
        async with httpx.AsyncClient(base_url=service.base_url, timeout=15.0) as client:
            loaded = await client.put(
                "/v1/actors", json=catalogue(), headers=bearer(Role.ADMIN, None)
            )
        assert loaded.status_code == 200, loaded.text
        assert loaded.json() == {"actors": 3, "changed": 3}
        # With offset reset "latest", what is published before the consumer has its
        # partitions is skipped: probe until it demonstrably consumes.
        first_probes = await probe(kafka_topics, dsn, attempts=20, wait=2.0)
        lap("first_start")

        async with TopicTap(kafka_topics, MATCHING_ASSIGNMENT.name) as tap:
            # Phase 1: the demandes pour in; kill -9 once kill_after proposals are out.
            size = -(-TOTAL // BATCHES)
            for start in range(0, TOTAL, size):
                await publish_raw(
                    kafka_topics, REQUESTS_REQUEST.name, planned[start : start + size]
                )
            lap("publish")
            try:
                await tap.collect(proposals.at_least(kill_after), timeout=60.0)
            except TimeoutError as exc:
                raise AssertionError(
                    f"only {len(proposals.records)} proposals before the kill\n{service.log_tail()}"
                ) from exc
            await service.kill()
            lap("until_kill")
            proposed_before_kill = set(proposals.records)
            processed_at_kill = await count(
                dsn, "SELECT count(*) FROM processed_events WHERE event_id = ANY($1)", our_ce_ids
            )
            unpublished_at_kill = await count(dsn, UNPUBLISHED)
            assert processed_at_kill < TOTAL, (
                "the kill came too late: every demande was already routed"
            )

            # Phase 2: restart on the same database and group.
            await service.start()
            # The restarted instance gets the partitions once the broker has evicted the
            # killed member (its session timeout, see consumer_options).
            await service.wait_ready(timeout=75.0)
            assert service.pid != first_pid
            lap("restart")

            # A redelivery of demandes routed before the kill: same records, same ce_id.
            redelivered = [m for m in planned if request_id_of(m) in proposed_before_kill][
                :REDELIVERED
            ]
            assert len(redelivered) == REDELIVERED
            await publish_raw(kafka_topics, REQUESTS_REQUEST.name, redelivered)

            # Phase 3: every demande gets its proposal.
            try:
                await tap.collect(proposals.at_least(TOTAL), timeout=90.0)
            except TimeoutError as exc:
                missing = sorted(every_id - proposals.records.keys())
                raise AssertionError(
                    f"{len(missing)} demandes never proposed, e.g. {missing[:5]}\n"
                    f"{service.log_tail()}"
                ) from exc
            lap("until_all_proposed")
            # Behind the redelivered records on the same partition: once this probe is
            # processed, so were they.
            last_probes = await probe(kafka_topics, dsn, attempts=3, wait=30.0)
            unpublished, _ = await wait_outbox_drained(dsn)
            # Whatever the relay (re)publishes in the meantime reaches the tap.
            await tap.collect(lambda _: True, settle=2.0)
            proposals.update(tap.records)
            lap("drain")

        conn = await asyncpg.connect(dsn)
        try:
            # Other tests publish on the shared topic too: the service routes their
            # demandes as well, so the checks keep to ours and count the others.
            all_assignments = await conn.fetch("SELECT id, request_id, status FROM assignments")
            processed_ids = {
                r["event_id"]
                for r in await conn.fetch(
                    "SELECT event_id FROM processed_events WHERE event_type = $1", SUBMITTED
                )
            }
            all_outbox = await conn.fetch(
                "SELECT event_id, event_type, payload FROM outbox WHERE event_type IN ($1, $2)",
                PROPOSED,
                UNMATCHED,
            )
            routed = {
                str(r["request_id"])
                for r in await conn.fetch("SELECT request_id FROM routed_demandes")
            }
        finally:
            await conn.close()
    finally:
        await service.stop()

    # --- on the topic --------------------------------------------------------------------
    on_topic = proposals.records
    kinds = Counter(r.headers["ce_type"] for copies in on_topic.values() for r in copies)
    distinct_assignments = {
        rid: {r.json()["assignment_id"] for r in copies if r.headers["ce_type"] == PROPOSED}
        for rid, copies in on_topic.items()
    }
    per_request = Counter(len(ids) for ids in distinct_assignments.values())
    ce_copies = Counter(r.headers["ce_id"] for copies in on_topic.values() for r in copies)
    republished = {ce: n for ce, n in ce_copies.items() if n > 1}
    # --- in the database -----------------------------------------------------------------
    assignment_rows = [r for r in all_assignments if str(r["request_id"]) in every_id]
    rows_per_request = Counter(str(r["request_id"]) for r in assignment_rows)
    processed_submitted = len(processed_ids & set(our_ce_ids))
    outbox_rows = [r for r in all_outbox if json.loads(r["payload"])["request_id"] in every_id]
    outbox_by_ce = {r["event_id"]: json.loads(r["payload"]) for r in outbox_rows}
    demandes = len(routed & every_id)
    foreign = {
        "routed_demandes": len(routed - every_id),
        "assignments": len(all_assignments) - len(assignment_rows),
        "processed_submitted": len(processed_ids) - processed_submitted,
        "outbox_rows": len(all_outbox) - len(outbox_rows),
    }

    summary = {
        "seed": seed,
        "demandes": TOTAL,
        "kill_after_proposals": kill_after,
        "proposed_on_topic_before_kill": len(proposed_before_kill),
        "processed_at_kill": processed_at_kill,
        "unpublished_outbox_at_kill": unpublished_at_kill,
        "redelivered": REDELIVERED,
        "probes": {"first_start": first_probes, "end": last_probes},
        "requests_proposed": len(on_topic),
        "proposals_per_request": {str(k): v for k, v in sorted(per_request.items())},
        "topic_records": sum(ce_copies.values()),
        "topic_distinct_ce_id": len(ce_copies),
        "topic_record_types": dict(kinds),
        "republished_ce_ids": len(republished),
        "republished_copies": sum(n - 1 for n in republished.values()),
        "db_assignments": len(assignment_rows),
        "db_routed_demandes": demandes,
        "db_processed_submitted": processed_submitted,
        "db_outbox_proposals": len(outbox_rows),
        "unpublished_outbox_rows": unpublished,
        "foreign_traffic_in_db": foreign,
        "seconds": lap.seconds,
        "phase_seconds": lap.phases,
    }
    print(
        f"\nmatching crash: killed after {len(proposed_before_kill)} proposals on topic"
        f" ({processed_at_kill} routed, {unpublished_at_kill} unpublished at kill),"
        f" redelivered {REDELIVERED}; proposed {len(on_topic)}/{TOTAL},"
        f" per request {dict(per_request)}; topic {summary['topic_records']} records,"
        f" {len(ce_copies)} distinct ce_id, republished {len(republished)}"
        f" (+{summary['republished_copies']} copies); db assignments {len(assignment_rows)},"
        f" processed {processed_submitted}, unpublished {unpublished};"
        f" others' demandes routed meanwhile {foreign['routed_demandes']}; seed {seed},"
        f" {summary['seconds']} s {lap.phases}"
    )
    write(RESULTS, summary)

    # Every demande proposed, exactly once, to one actor; never declared unmatched.
    assert on_topic.keys() == every_id
    assert kinds.keys() == {PROPOSED}, f"unexpected event types {kinds}"
    assert per_request == {1: TOTAL}, f"distinct proposals per demande: {per_request}"
    # A copy on the topic is a republication: same ce_id, same body, from one outbox row.
    for rid, copies in on_topic.items():
        by_ce: dict[str, set[bytes]] = defaultdict(set)
        for r in copies:
            by_ce[r.headers["ce_id"]].add(r.value)
        assert len(by_ce) == 1, f"{rid}: {len(by_ce)} different events {sorted(by_ce)}"
        [(ce_id, bodies)] = by_ce.items()
        assert len(bodies) == 1, f"{rid}: copies of {ce_id} differ"
        assert outbox_by_ce[ce_id]["request_id"] == rid
        assert {r.key for r in copies} == {KEY}
    # The database agrees: one assignment per demande, one processed event per submission.
    assert rows_per_request.keys() == every_id
    assert set(rows_per_request.values()) == {1}
    assert len(assignment_rows) == TOTAL
    assert {r["status"] for r in assignment_rows} == {"proposed"}
    assert {str(r["id"]) for r in assignment_rows} == {
        a for ids in distinct_assignments.values() for a in ids
    }
    assert demandes == TOTAL
    assert processed_submitted == TOTAL
    assert processed_ids >= set(our_ce_ids)
    assert len(outbox_rows) == TOTAL
    assert unpublished == 0, f"{unpublished} outbox rows never published"
