"""The billing API on the in-memory fakes: a router, its French errors, a principal and a
unit of work of the test's choosing (``as_principal`` changes who asks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

from services.billing import bootstrap
from services.billing.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.security import current_principal


class BillingClient(httpx.AsyncClient):
    app: FastAPI

    def as_principal(self, principal: Principal) -> None:
        self.app.dependency_overrides[current_principal] = lambda: principal


@asynccontextmanager
async def billing_client(
    router: APIRouter, principal: Principal, uow: UnitOfWork
) -> AsyncIterator[BillingClient]:
    app = FastAPI()
    for exc_type, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.include_router(router)
    app.dependency_overrides[bootstrap.http_unit_of_work] = lambda: uow
    transport = httpx.ASGITransport(app=app)
    async with BillingClient(transport=transport, base_url="http://127.0.0.1") as client:
        client.app = app
        client.as_principal(principal)
        yield client
