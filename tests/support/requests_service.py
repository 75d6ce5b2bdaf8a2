"""A requests service running in the test process, on a fresh database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from services.requests.entrypoints.main import MIGRATIONS, NAME, build
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, service_settings


@dataclass
class RunningService:
    app: FastAPI
    runtime: ServiceRuntime
    client: httpx.AsyncClient
    database_url: str


@asynccontextmanager
async def running_requests_service(
    fresh_database: Callable[[str], Awaitable[str]], kafka: KafkaSettings
) -> AsyncIterator[RunningService]:
    database_url = await fresh_database(NAME)
    settings = service_settings(NAME).model_copy(
        update={
            "database_url": database_url,
            "consumer_group": f"requests-test-{uuid.uuid4().hex[:8]}",
            "outbox_poll_seconds": 0.2,
            # Earlier runs left commands on the shared topic: this test service starts after them.
            "consumer_offset_reset": "latest",
        }
    )
    runtime = ServiceRuntime(NAME, migrations_dir=MIGRATIONS, settings=settings, kafka=kafka)
    app = build(runtime)
    await runtime.start()
    await wait_for_assignment(runtime)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://requests") as client:
            yield RunningService(app, runtime, client, database_url)
    finally:
        await runtime.stop()


async def wait_for_assignment(runtime: ServiceRuntime, timeout: float = 30.0) -> None:
    """Return once every subscriber owns partitions, so nothing published after is missed."""
    deadline = asyncio.get_running_loop().time() + timeout
    for subscriber in runtime.broker.subscribers:
        while True:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is not None and consumer.assignment():
                # The position is looked up right after assignment; give it that moment.
                positions = [await consumer.position(tp) for tp in consumer.assignment()]
                assert all(p >= 0 for p in positions)
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the subscriber got no partition")
            await asyncio.sleep(0.1)
