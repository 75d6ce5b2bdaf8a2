"""Fixtures for tests against the real PostgreSQL server and the real Kafka broker.

`.ci/run` (or `make test`) starts both; the addresses come from the same
variables the services read. Each test session gets fresh databases; Kafka
topics are shared, so tests pick out their own records by unique ids.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from shared.messaging.admin import ensure_topics
from shared.settings import KafkaSettings

PG_ADMIN_DSN = os.environ.get(
    "MG_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5433/postgres"
)


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
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        return f"{base}/{name}"

    yield make
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
