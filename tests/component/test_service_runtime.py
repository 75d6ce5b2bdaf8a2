"""Every service starts the same way: migrates its own database, serves health and metrics."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.migrations import alembic_config
from shared.messaging.tables import MESSAGING_METADATA
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, service_settings

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SERVICES = ["requests", "matching", "billing", "notifications", "resources"]


@pytest.mark.parametrize("name", SERVICES)
async def test_service_starts_migrates_and_reports_ready(
    name: str, fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> None:
    main = importlib.import_module(f"services.{name}.entrypoints.main")
    url = await fresh_database(name)
    settings = service_settings(name).model_copy(update={"database_url": url})
    runtime = ServiceRuntime(
        name, migrations_dir=main.MIGRATIONS, settings=settings, kafka=kafka_topics
    )
    app = main.build(runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://svc"
        ) as client:
            ready = await client.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert (await client.get("/health/live")).json() == {"status": "ok"}
            metrics = await client.get("/metrics/")
            assert "mg_outbox_relay_leader" in metrics.text
            assert (await client.get("/openapi.json")).status_code == 200
        assert runtime.relay.is_leader
    finally:
        await runtime.stop()


@pytest.mark.parametrize("name", SERVICES)
async def test_migrations_match_the_tables_and_go_down_and_up(
    name: str, fresh_database: Callable[[str], Awaitable[str]]
) -> None:
    main = importlib.import_module(f"services.{name}.entrypoints.main")
    orm = importlib.import_module(f"services.{name}.adapters.orm")
    url = await fresh_database(name)
    config = alembic_config(Path(main.MIGRATIONS), url)
    await _in_thread(lambda: command.upgrade(config, "head"))
    await _in_thread(lambda: command.downgrade(config, "base"))
    await _in_thread(lambda: command.upgrade(config, "head"))

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    [orm.metadata, MESSAGING_METADATA],  # type: ignore[arg-type]
                )
            )
    finally:
        await engine.dispose()
    assert diff == [], f"the models and the migrations of {name} differ: {diff}"


async def _in_thread(fn: Callable[[], object]) -> object:
    return await asyncio.to_thread(fn)
