"""200 acceptances of one département at once, the billing service killed twice with
SIGKILL while it prepares their conventions, then restarted on the same database.

The acceptances are published by several producers at the same time, each demande's
acceptance twice (a redelivery) and some a third time under a new event id (a replay).
The billing service, a real OS process, is killed with ``kill -9`` after a random number
of conventions, twice, and restarted with the same consumer group: what it had not
committed is delivered again.

Then: conventions numbered ``CONV-90-2031-000001`` to ``…000200``, no gap, no
duplicate, the counter at 200; exactly one convention per demande; one
``billing.convention.prepared.v1`` in the outbox per convention, all published.
Figures go to ``tests/perf/results/convention_crash_run.json``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from shared.contracts.matching import AssignmentAccepted, NeedRef
from shared.contracts.topics import MATCHING_ASSIGNMENT
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from shared.settings import KafkaSettings
from stack.harness.process import ServiceProcess, free_port
from tests.support.crash_run import Laps, crash_seed
from tests.support.kafka_tap import publish_raw

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

# A département and a year no other test numbers conventions in: the series is ours.
DEPARTEMENT, YEAR = "90", 2031
ACCEPTANCES = 200
PRODUCERS = 8
KILLS = ((15, 70), (100, 160))  # conventions committed when each SIGKILL comes
RESULTS = Path(__file__).resolve().parents[1] / "perf" / "results" / "convention_crash_run.json"
OURS = "SELECT count(*) FROM conventions WHERE departement = $1 AND year = $2"

Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def plain_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def acceptances(rng: random.Random) -> tuple[list[AssignmentAccepted], list[Message]]:
    """One lead acceptance per demande, from the communes of the département; each
    published twice, one in ten replayed under a new event id; in a shuffled order."""
    communes = [c.code_insee for c in get_territories().communes_of(DEPARTEMENT)]
    events = [
        AssignmentAccepted(
            assignment_id=uuid.uuid4(),
            request_id=uuid.uuid4(),
            departement=DEPARTEMENT,
            actor_id="caue90",
            actor_name="CAUE du Territoire de Belfort",
            accepted_at=datetime(YEAR, 3, 1, 9, tzinfo=UTC),
            lead=True,
            actor_kind="caue",
            requester_code=rng.choice(communes),
            requester_kind=RequesterKind.COMMUNE,
            needs=[NeedRef(theme=Theme.ARCHITECTURE_PAYSAGE, phase=Phase.FAISABILITE)],
        )
        for _ in range(ACCEPTANCES)
    ]
    messages: list[Message] = []
    for event in events:
        value = event.model_dump_json().encode()
        envelope = Envelope(type=event.event_type, source="matching", departement=DEPARTEMENT)
        copies = [envelope, envelope]
        if rng.random() < 0.1:
            copies.append(
                Envelope(type=event.event_type, source="matching", departement=DEPARTEMENT)
            )
        for copy in copies:
            headers = [(k, v.encode()) for k, v in copy.to_headers().items()]
            messages.append((DEPARTEMENT.encode(), value, headers))
    rng.shuffle(messages)
    return events, messages


async def publish_in_parallel(kafka: KafkaSettings, messages: list[Message]) -> None:
    """Several producers at once, as several matching instances would publish."""
    batches = [messages[i::PRODUCERS] for i in range(PRODUCERS)]
    await asyncio.gather(*(publish_raw(kafka, MATCHING_ASSIGNMENT.name, b) for b in batches))


async def wait_for(
    conn: asyncpg.Connection, service: ServiceProcess, count: int, timeout: float
) -> int:
    started = time.monotonic()
    while (done := int(await conn.fetchval(OURS, DEPARTEMENT, YEAR))) < count:
        assert service.running, f"the service died by itself:\n{service.log_tail()}"
        assert time.monotonic() - started < timeout, (
            f"only {done} conventions after {timeout} s:\n{service.log_tail()}"
        )
        await asyncio.sleep(0.02)
    return done


@pytest.mark.timeout(600)
async def test_200_acceptances_while_billing_is_killed_twice_give_200_conventions_without_gap(
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
    tmp_path: Path,
) -> None:
    lap = Laps()
    seed = crash_seed()
    rng = random.Random(seed)
    kill_after = [rng.randint(*bounds) for bounds in KILLS]
    events, messages = acceptances(rng)

    database_url = await fresh_database("convention_crash")
    port = free_port()
    env = {
        "MG_BILLING_DATABASE_URL": database_url,
        "MG_BILLING_HTTP_PORT": str(port),
        "MG_BILLING_CONSUMER_GROUP": f"billing-conv-crash-{uuid.uuid4().hex[:8]}",
        # Records left on the shared topic by earlier runs are none of this test's business.
        "MG_BILLING_CONSUMER_OFFSET_RESET": "latest",
        "MG_BILLING_OUTBOX_POLL_SECONDS": "0.2",
        "MG_BILLING_LOG_LEVEL": "WARNING",
        "MG_KAFKA_BOOTSTRAP_SERVERS": kafka_topics.bootstrap_servers,
    }
    service = ServiceProcess(
        "services.billing.entrypoints.main", env=env, port=port, log_path=tmp_path / "billing.log"
    )
    conn = await asyncpg.connect(plain_dsn(database_url))
    seen_at_kill: list[int] = []
    try:
        await service.start()
        await service.wait_ready(timeout=60)
        lap("first_start")
        await publish_in_parallel(kafka_topics, messages)
        lap("publish")
        for threshold in kill_after:
            await wait_for(conn, service, threshold, timeout=120)
            await service.kill()
            seen_at_kill.append(int(await conn.fetchval(OURS, DEPARTEMENT, YEAR)))
            await service.start()
            # The restarted instance joins the group once the broker evicted the killed one.
            await service.wait_ready(timeout=90)
        lap("kills_and_restarts")
        await wait_for(conn, service, ACCEPTANCES, timeout=240)
        lap("all_prepared")
        deadline = time.monotonic() + 120
        while await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            assert time.monotonic() < deadline, "the outbox did not drain"
            await asyncio.sleep(0.2)
        lap("outbox_drain")
        # Anything still in flight (a redelivered copy) must add nothing: wait a little.
        await asyncio.sleep(2.0)

        async with conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(
                "SELECT number, sequence, demande_id, version FROM conventions "
                "WHERE departement = $1 AND year = $2 ORDER BY sequence",
                DEPARTEMENT,
                YEAR,
            )
            counter = await conn.fetchval(
                "SELECT last_number FROM convention_counters WHERE departement = $1 AND year = $2",
                DEPARTEMENT,
                YEAR,
            )
            # Only ours: acceptances other tests publish on the shared topic are prepared too.
            prepared_events, distinct_events = await conn.fetchrow(
                "SELECT count(*), count(DISTINCT p ->> 'convention_id') FROM ("
                "SELECT convert_from(payload, 'UTF8')::jsonb AS p FROM outbox "
                "WHERE event_type = 'billing.convention.prepared.v1') AS e "
                "WHERE p ->> 'departement' = $1 AND p ->> 'number' LIKE $2",
                DEPARTEMENT,
                f"CONV-{DEPARTEMENT}-{YEAR}-%",
            )
    finally:
        await conn.close()
        await service.stop()

    sequences = [r["sequence"] for r in rows]
    demandes = [r["demande_id"] for r in rows]
    summary = {
        "seed": seed,
        "acceptances": ACCEPTANCES,
        "messages_published": len(messages),
        "kill_after": kill_after,
        "conventions_seen_at_kill": seen_at_kill,
        "conventions": len(rows),
        "distinct_demandes": len(set(demandes)),
        "counter": counter,
        "prepared_events": prepared_events,
        "seconds": lap.seconds,
        "phase_seconds": lap.phases,
    }
    print(f"\nconvention crash run: {json.dumps(summary)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    assert len(seen_at_kill) == 2 and seen_at_kill[-1] < ACCEPTANCES, "both kills came mid-run"
    # Numbered 1..200: no gap, no duplicate, the counter agrees.
    assert sequences == list(range(1, ACCEPTANCES + 1))
    assert [r["number"] for r in rows] == [
        f"CONV-{DEPARTEMENT}-{YEAR}-{n:06d}" for n in range(1, ACCEPTANCES + 1)
    ]
    assert counter == ACCEPTANCES
    # Each demande exactly one convention (version 0), none for anything else.
    assert sorted(map(str, demandes)) == sorted(str(e.request_id) for e in events)
    assert {r["version"] for r in rows} == {0}
    # One event per convention, all published.
    assert prepared_events == distinct_events == ACCEPTANCES
