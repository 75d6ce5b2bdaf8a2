"""The resources service's database for the tests that drive its use cases directly on
the real PostgreSQL (no broker): a fresh database migrated to head, and its units of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from services.resources.adapters.unit_of_work import ResourcesUnitOfWork
from services.resources.entrypoints.main import MIGRATIONS
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.settings import KafkaSettings
from tests.support.services import RunningService, running_service


@dataclass
class ResourcesDatabase:
    url: str
    new_uow: Callable[[], ResourcesUnitOfWork]


@pytest.fixture(scope="module")
async def resources_db(
    fresh_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[ResourcesDatabase]:
    url = await fresh_database("resources")
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    engine = make_engine(url, pool_size=10)
    factory = make_session_factory(engine)
    try:
        yield ResourcesDatabase(url, lambda: ResourcesUnitOfWork(factory, "resources"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def resources_service(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[RunningService]:
    """The resources service in this process, on a fresh database and the shared broker."""
    async with running_service("resources", fresh_database, kafka_topics) as running:
        yield running
