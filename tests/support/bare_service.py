"""A service's HTTP stack (``shared.runtime.create_app``: middleware, security, handlers)
around routes of the test's own, with no database or broker behind it: what the tests of
the HTTP guards call in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI

from shared.runtime import ServiceRuntime, create_app
from shared.settings import (
    AuthSettings,
    DeploymentSettings,
    HttpSettings,
    OidcSettings,
    service_settings,
)


def bare_app(
    routers: Sequence[APIRouter],
    *,
    auth: AuthSettings | None = None,
    oidc: OidcSettings | None = None,
    http: HttpSettings | None = None,
    deployment: DeploymentSettings | None = None,
) -> tuple[FastAPI, ServiceRuntime]:
    settings = service_settings("requests").model_copy(
        # Never connected to: no route of the test's touches the database.
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    )
    runtime = ServiceRuntime(
        "requests",
        migrations_dir=Path("."),
        settings=settings,
        auth=auth,
        oidc=oidc,
        http=http,
        deployment=deployment,
    )
    return create_app(runtime, title="t", description="t", routers=routers), runtime


@asynccontextmanager
async def bare_client(
    routers: Sequence[APIRouter], **settings: object
) -> AsyncIterator[httpx.AsyncClient]:
    app, runtime = bare_app(routers, **settings)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client
    finally:
        await runtime.engine.dispose()
