"""Fixtures shared by several integration test modules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from services.billing.entrypoints.main import MIGRATIONS
from shared.db.migrations import upgrade
from shared.settings import KafkaSettings
from tests.support.services import RunningService, running_requests_service


@pytest.fixture
async def requests_service(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[RunningService]:
    """A requests service of its own database, on the shared broker (the bad-input tests)."""
    async with running_requests_service(fresh_database, kafka_topics) as running:
        yield running


@pytest.fixture(scope="module")
def billing_database_url(fresh_database: Callable[[str], Awaitable[str]]) -> str:
    """A migrated billing database, one per test module (the billing concurrency tests)."""
    url = asyncio.run(fresh_database("billing_numbering"))
    upgrade(MIGRATIONS, url)
    return url
