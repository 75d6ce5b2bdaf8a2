"""Fixtures for tests against the real PostgreSQL server and the real Kafka broker.

`.ci/run` (or `make test`) starts both; the addresses come from the same
variables the services read. Each test session gets fresh databases; Kafka
topics are shared, so tests pick out their own records by unique ids.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from shared.messaging.admin import ensure_topics
from shared.settings import KafkaSettings
from stack.harness.databases import create_database, drop_databases


@pytest.fixture(scope="session")
def kafka_settings() -> KafkaSettings:
    return KafkaSettings()


@pytest.fixture(scope="session")
async def kafka_topics(kafka_settings: KafkaSettings) -> KafkaSettings:
    await ensure_topics(kafka_settings)
    return kafka_settings


@pytest.fixture(scope="session")
async def fresh_database() -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Factory of empty databases; returns their SQLAlchemy URL, drops them at the end."""
    created: list[str] = []

    async def make(prefix: str) -> str:
        name = f"t_{prefix}_{uuid.uuid4().hex[:10]}"
        url = await create_database(name)
        created.append(name)
        return url

    yield make
    await drop_databases(created)
