"""Fixtures shared by several integration test modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from shared.settings import KafkaSettings
from tests.support.services import RunningService, running_requests_service


@pytest.fixture
async def requests_service(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[RunningService]:
    """A requests service of its own database, on the shared broker (the bad-input tests)."""
    async with running_requests_service(fresh_database, kafka_topics) as running:
        yield running
