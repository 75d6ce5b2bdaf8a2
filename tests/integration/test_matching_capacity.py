"""Two matching instances in one consumer group never over-book a scarce actor.

The demandes are spread over every partition on purpose (random keys), so that both
instances decide for the same département at the same moment: only the lock on the
département's actors stands between them and an over-booking.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import pytest
from sqlalchemy import func, select

from services.matching.adapters.orm import assignments, routed_demandes
from shared.auth.tokens import Role
from shared.contracts.topics import MATCHING_ASSIGNMENT, REQUESTS_REQUEST
from shared.contracts.vocabulary import Theme
from shared.messaging.consumer import consumers_of
from shared.refdata import get_territories
from shared.settings import KafkaSettings
from tests.support import events
from tests.support.kafka_tap import TopicTap, publish_raw
from tests.support.services import RunningService, running_service
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CAPACITY = 3
DEMANDES = 40

SCARCE = {
    "departement": "49",
    "actors": [
        {
            "id": "t49-rare",
            "name": "Seul expert du département",
            "kind": "atd",
            "themes": {"finances_locales": 3},
            "phases": ["faisabilite"],
            "territory": {"departements": ["49"]},
            "capacity": CAPACITY,
        }
    ],
}


def submitted(rng: random.Random) -> tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]:
    commune = rng.choice(get_territories().communes_of("49"))
    event = events.request_submitted(
        requester=events.commune_requester(commune),
        title="Prospective financière",
        themes=[Theme.FINANCES_LOCALES],
    )
    _, (_, value, headers) = events.as_record(event)
    key = uuid.uuid4().hex.encode()  # any partition: both instances work on département 49
    return str(event.request_id), key, value, headers


async def test_two_instances_never_overbook_a_scarce_actor(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> None:
    database_url = await fresh_database("matching")
    group = f"matching-capacity-{uuid.uuid4().hex[:8]}"

    def instance() -> AbstractAsyncContextManager[RunningService]:
        """One more matching instance on the same database, in the same consumer group."""
        return running_service(
            "matching",
            fresh_database,
            kafka_topics,
            database_url=database_url,
            consumer_group=group,
        )

    async with instance() as first, instance() as second:
        owned = await _wait_for_split(first.runtime, second.runtime)
        assert owned[0] and owned[1], f"both instances must own partitions: {owned}"
        loaded = await first.client.put("/v1/actors", json=SCARCE, headers=bearer(Role.ADMIN, None))
        assert loaded.status_code == 200

        rng = random.Random(7)
        batch = [submitted(rng) for _ in range(DEMANDES)]
        ids = {request_id for request_id, *_ in batch}
        async with TopicTap(kafka_topics, MATCHING_ASSIGNMENT.name) as tap:
            await publish_raw(kafka_topics, REQUESTS_REQUEST.name, [m for _, *m in batch])  # type: ignore[misc]
            records = await tap.collect(
                lambda rs: len({r.json().get("request_id") for r in rs} & ids) == DEMANDES,
                timeout=60,
                settle=1.0,
            )

        outcomes = Counter(
            r.headers["ce_type"] for r in records if r.json().get("request_id") in ids
        )
        async with first.runtime.session_factory() as session:
            open_for_actor = (
                await session.execute(
                    select(func.count()).where(
                        assignments.c.actor_id == "t49-rare",
                        assignments.c.status.in_(["proposed", "accepted"]),
                    )
                )
            ).scalar_one()
            routed = (
                await session.execute(select(func.count()).select_from(routed_demandes))
            ).scalar_one()
            handled_by = (
                await session.execute(select(func.count(func.distinct(assignments.c.request_id))))
            ).scalar_one()

    print(f"\npartitions {owned}; outcomes {dict(outcomes)}; open for actor {open_for_actor}")
    assert routed == DEMANDES
    assert open_for_actor == CAPACITY, "the actor got more proposals than its capacity"
    assert outcomes["matching.assignment.proposed.v1"] == CAPACITY
    assert outcomes["matching.request.unmatched.v1"] == DEMANDES - CAPACITY
    assert handled_by == CAPACITY


async def _wait_for_split(*runtimes: object) -> list[list[int]]:
    """Both instances joined the group and the partitions are shared between them."""
    owned: list[list[int]] = []
    for _ in range(150):
        owned = []
        for runtime in runtimes:
            parts: list[int] = []
            for subscriber in runtime.broker.subscribers:  # type: ignore[attr-defined]
                for consumer in consumers_of(subscriber):
                    parts += sorted(tp.partition for tp in consumer.assignment())
            owned.append(parts)
        if all(owned) and sum(len(p) for p in owned) == REQUESTS_REQUEST.partitions:
            # A new group has no offsets: make each owner resolve "latest" before we publish.
            for runtime in runtimes:
                for subscriber in runtime.broker.subscribers:  # type: ignore[attr-defined]
                    for consumer in consumers_of(subscriber):
                        for tp in consumer.assignment():
                            await consumer.position(tp)
            return owned
        await asyncio.sleep(0.2)
    return owned
