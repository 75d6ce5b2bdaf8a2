"""Where the resources service's adapters meet its service layer, and nowhere else.

Every unit of work comes from the runtime's factory, so committing one that wrote to
the outbox wakes the relay, whichever entry point (route or subscriber) committed it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Request

from services.resources.adapters.certificate import certificate_pdf
from services.resources.adapters.report_documents import report_files
from services.resources.adapters.unit_of_work import ResourcesUnitOfWork
from services.resources.config import SurveySettings
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.messaging.consumer import IdempotentConsumer, Route
from shared.runtime import ServiceRuntime, unit_of_work_dependency
from shared.settings import service_settings

# FastAPI dependency: a fresh unit of work per HTTP request.
http_unit_of_work: Callable[[Request], ResourcesUnitOfWork] = unit_of_work_dependency(
    ResourcesUnitOfWork
)

# An activity report as files: HTML with SVG charts, a CSV per table, open data and schema.
report_documents = report_files
# The certificate of attendance of a registration, as PDF (blocking: run it in a thread).
attendance_certificate = certificate_pdf


def survey_secret(settings: SurveySettings | None = None) -> bytes:
    """The key of the survey links (``MG_RESOURCES_LINK_SECRET``), so that a survey link
    is never a token."""
    secret = (settings or SurveySettings()).link_secret.get_secret_value()
    return hmac.new(secret.encode(), b"mg-survey-links", hashlib.sha256).digest()


def http_survey_secret() -> bytes:
    """FastAPI dependency: the survey links' key of the running service."""
    return survey_secret()


def unit_of_work_factory(runtime: ServiceRuntime) -> Callable[[], ResourcesUnitOfWork]:
    """Units of work of the running service; committing one wakes the relay."""
    return runtime.unit_of_work(ResourcesUnitOfWork)


def consumer(
    runtime: ServiceRuntime, routes: Mapping[str, Route[ResourcesUnitOfWork]]
) -> IdempotentConsumer[ResourcesUnitOfWork]:
    """An idempotent consumer running ``routes``, each event in its own unit of work."""
    return runtime.consumer(unit_of_work_factory(runtime), routes)


@asynccontextmanager
async def standalone_units_of_work(
    name: str, migrations: Path, database_url: str | None = None
) -> AsyncIterator[Callable[[], ResourcesUnitOfWork]]:
    """Units of work for a command-line tool, on a migrated database of its own.

    No relay runs in such a process: the service's relay publishes what it wrote on its
    next poll of the outbox.
    """
    url = database_url or service_settings(name).database_url
    await asyncio.to_thread(upgrade, migrations, url)
    engine = make_engine(url, pool_size=2)
    try:
        factory = make_session_factory(engine)
        yield lambda: ResourcesUnitOfWork(factory, source=name)
    finally:
        await engine.dispose()
