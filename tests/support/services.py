"""Services running in the test process, each on a fresh database, with the real broker."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.messaging.consumer import consumers_of
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, service_settings


@dataclass
class RunningService:
    app: FastAPI
    runtime: ServiceRuntime
    client: httpx.AsyncClient
    database_url: str


@asynccontextmanager
async def running_service(
    name: str,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka: KafkaSettings,
    *,
    database_url: str | None = None,
    consumer_group: str | None = None,
    build_options: dict[str, Any] | None = None,
) -> AsyncIterator[RunningService]:
    """Start service ``name`` in this process; several may share a database and a group."""
    main = importlib.import_module(f"services.{name}.entrypoints.main")
    database_url = database_url or await fresh_database(name)
    settings = service_settings(name).model_copy(
        update={
            "database_url": database_url,
            "consumer_group": consumer_group or f"{name}-test-{uuid.uuid4().hex[:8]}",
            "outbox_poll_seconds": 0.2,
            # Earlier runs left records on the shared topics: this test service starts after them.
            "consumer_offset_reset": "latest",
        }
    )
    runtime = ServiceRuntime(name, migrations_dir=main.MIGRATIONS, settings=settings, kafka=kafka)
    app = main.build(runtime, **(build_options or {}))
    await runtime.start()
    await wait_for_assignment(runtime)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
            yield RunningService(app, runtime, client, database_url)
    finally:
        await runtime.stop()


def service_fixture(fixture_name: str, service: str) -> Any:
    """A pytest fixture named ``fixture_name``: ``service`` running for one test, on a fresh
    database and the shared broker."""

    @pytest.fixture(name=fixture_name)
    async def running(
        fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
    ) -> AsyncIterator[RunningService]:
        async with running_service(service, fresh_database, kafka_topics) as started:
            yield started

    return running


async def wait_for_assignment(runtime: ServiceRuntime, timeout: float = 30.0) -> None:
    """Return once every subscriber owns partitions, so nothing published after is missed."""
    deadline = asyncio.get_running_loop().time() + timeout
    for subscriber in runtime.broker.subscribers:
        while True:
            consumers = consumers_of(subscriber)
            if consumers and all(c.assignment() for c in consumers):
                # The position is looked up right after assignment; give it that moment.
                positions = [await c.position(tp) for c in consumers for tp in c.assignment()]
                assert all(p >= 0 for p in positions)
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the subscriber got no partition")
            await asyncio.sleep(0.1)
