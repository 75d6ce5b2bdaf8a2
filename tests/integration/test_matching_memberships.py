"""Matching's projection of billing's adhésions against the real broker and database: it
follows billing.adhesion.v1 through the idempotent consumer, the topic keeps its records
forever, and ``mg-matching rebuild-memberships`` restores a lost projection from offset 0
while the service runs."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.matching.adapters.unit_of_work import MatchingUnitOfWork
from services.matching.domain.membership import Membership
from shared.contracts.billing import AdhesionEnded, AdhesionRegistered
from shared.contracts.topics import BILLING_ADHESION
from shared.contracts.vocabulary import RequesterKind
from shared.messaging.acls import ADMIN
from shared.messaging.broker import client_options
from shared.settings import KafkaSettings
from tests.component.notification_demandes import publish
from tests.support.services import RunningService, running_service

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

DEP = "49"


async def retention_of(kafka: KafkaSettings, topic: str) -> str:
    admin = AIOKafkaAdminClient(**client_options(kafka.principal(ADMIN)))
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        # DescribeConfigs v0: (error code, message, type, name, [(name, value, ...)]).
        [(*_, entries)] = response.resources
        return next(str(value) for name, value, *_ in entries if name == "retention.ms")
    finally:
        await admin.close()


async def held(matching: RunningService, codes: list[str]) -> dict[str, Membership]:
    async with matching.runtime.unit_of_work(MatchingUnitOfWork)() as uow:
        return {m.collectivite_code: m for m in await uow.memberships.of(DEP, codes)}


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_the_projection_follows_the_topic_and_a_rebuild_restores_it(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> None:
    assert await retention_of(kafka_topics, BILLING_ADHESION.name) == "-1"
    now = datetime.now(UTC)
    codes = [f"t{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = [
        AdhesionRegistered(
            adhesion_id=uuid.uuid4(),
            departement=DEP,
            year=now.year,
            collectivite_code=code,
            collectivite_kind=RequesterKind.COMMUNE,
            collectivite_name=code,
            population=100,
            registered_at=now - timedelta(days=1),
        )
        for code in codes
    ]
    ended = AdhesionEnded.model_validate(events[2].model_dump() | {"ended_at": now})

    async with running_service("matching", fresh_database, kafka_topics) as matching:
        for event in [*events, ended]:
            await publish(kafka_topics, event)
        # The same registration again, as a relay may publish it twice: one row.
        await publish(kafka_topics, events[0])

        async def followed() -> bool:
            found = await held(matching, codes)
            return len(found) == 3 and found[codes[2]].ended_at is not None

        await until(followed)
        before = await held(matching, codes)

        # The projection is lost (a bad migration, a restored backup...).
        async with matching.runtime.unit_of_work(MatchingUnitOfWork)() as uow:
            await uow.memberships.clear()
            await uow.commit()
        assert await held(matching, codes) == {}

        # Rebuilt from offset 0 by the command, while the service keeps running.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.matching.entrypoints.main",
            "rebuild-memberships",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=os.environ
            | {
                "MG_MATCHING_DATABASE_URL": matching.database_url,
                "MG_KAFKA_BOOTSTRAP_SERVERS": kafka_topics.bootstrap_servers,
            },
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
        text = " ".join(output.decode().split())  # rich wraps lines at the terminal's width
        assert process.returncode == 0, text
        assert "Relecture de billing.adhesion.v1" in text
        assert "événements relus" in text and "adhésions dans la projection" in text
        # Bad records on the shared topic (the consumer fuzz test's) are skipped, not fatal.
        assert "enregistrements invalides ignorés" in text

        after = await held(matching, codes)
        assert after == before
        assert after[codes[2]].ended_at == now
        assert {m.adhesion_id for m in after.values()} == {e.adhesion_id for e in events}
        async with matching.runtime.unit_of_work(MatchingUnitOfWork)() as uow:
            total = await uow.memberships.count()
        reported = int(text.split("événements relus, ")[1].split(" adhésions")[0])
        assert total >= reported >= len(events)
