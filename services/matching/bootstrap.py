"""Where the matching service's adapters meet its service layer, and nowhere else.

Every unit of work comes from the runtime's factory, so committing one that wrote to
the outbox wakes the relay, whichever entry point (route, subscriber, expiry sweep)
committed it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Request

from services.matching.adapters.storage import PostgresContentStore, S3ContentStore
from services.matching.adapters.unit_of_work import MatchingUnitOfWork
from services.matching.config import MissionSettings
from services.matching.service_layer.ports import ContentStore
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.messaging.consumer import IdempotentConsumer, Route
from shared.runtime import ServiceRuntime, unit_of_work_dependency
from shared.settings import service_settings

# FastAPI dependency: a fresh unit of work per HTTP request.
http_unit_of_work: Callable[[Request], MatchingUnitOfWork] = unit_of_work_dependency(
    MatchingUnitOfWork
)


def unit_of_work_factory(runtime: ServiceRuntime) -> Callable[[], MatchingUnitOfWork]:
    """Units of work of the running service; committing one wakes the relay."""
    return runtime.unit_of_work(MatchingUnitOfWork)


def content_store(runtime: ServiceRuntime, settings: MissionSettings) -> ContentStore:
    """Where deliverables' bytes go: the service's database, or the configured S3 bucket."""
    if settings.storage == "s3":
        return S3ContentStore(
            endpoint_url=settings.s3_endpoint,
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            region=settings.s3_region,
        )
    return PostgresContentStore(runtime.session_factory)


def http_content_store(request: Request) -> ContentStore:
    """FastAPI dependency: the store ``main.build`` chose."""
    store: ContentStore = request.app.state.content_store
    return store


def consumer(
    runtime: ServiceRuntime, routes: Mapping[str, Route[MatchingUnitOfWork]]
) -> IdempotentConsumer[MatchingUnitOfWork]:
    """An idempotent consumer running ``routes``, each event in its own unit of work."""
    return runtime.consumer(unit_of_work_factory(runtime), routes)


@asynccontextmanager
async def standalone_units_of_work(
    name: str, migrations: Path
) -> AsyncIterator[Callable[[], MatchingUnitOfWork]]:
    """Units of work for a command-line tool, on a migrated database of its own.

    No relay runs in such a process: the service's relay publishes what it wrote on its
    next poll of the outbox.
    """
    settings = service_settings(name)
    await asyncio.to_thread(upgrade, migrations, settings.database_url)
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        factory = make_session_factory(engine)
        yield lambda: MatchingUnitOfWork(factory, source=name)
    finally:
        await engine.dispose()
