"""``mg-billing``: the billing service process (HTTP API, subscribers, outbox relay)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from services.billing import bootstrap
from services.billing.entrypoints import consumers, http, http_buyers, http_conventions
from services.billing.service_layer.conventions import expire_due
from services.billing.service_layer.cotisation_run import interrupt_stale_runs
from services.billing.service_layer.ports import UnitOfWork
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.runtime import ServiceRuntime, create_app, run_service
from shared.settings import service_settings

NAME = "billing"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@asynccontextmanager
async def terminal_units_of_work() -> AsyncIterator[Callable[[], UnitOfWork]]:
    """Units of work on the billing database (migrated first), for a command run from a
    terminal; the service's relay publishes what they wrote to the outbox."""
    settings = service_settings(NAME)
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        yield bootstrap.standalone_unit_of_work(make_session_factory(engine), NAME)
    finally:
        await engine.dispose()


@asynccontextmanager
async def terminal_unit_of_work() -> AsyncIterator[UnitOfWork]:
    """One unit of work of :func:`terminal_units_of_work`."""
    async with terminal_units_of_work() as unit_of_work, unit_of_work() as uow:
        yield uow


def build(runtime: ServiceRuntime) -> FastAPI:
    consumers.register(runtime)

    unit_of_work = bootstrap.unit_of_work_factory(runtime)

    async def interrupt_stale() -> None:
        async with unit_of_work() as uow:
            await interrupt_stale_runs(uow, datetime.now(UTC))

    runtime.every(60.0, interrupt_stale, name="billing-stale-runs")

    async def expire_conventions() -> None:
        # Batch after batch until none is due; each commit wakes the relay.
        while True:
            async with unit_of_work() as uow:
                if not await expire_due(uow, datetime.now(UTC)):
                    return

    runtime.every(60.0, expire_conventions, name="billing-convention-expiry")
    return create_app(
        runtime,
        title="Matière Grise — facturation",
        description=(
            "Adhésions, tarifs versionnés, cotisations annuelles et frais de mission ; "
            "factures et avoirs numérotés sans trou par département et par année. "
            "Conventions (devis) signées par les collectivités avant la mission. "
            "Comptes acheteurs (Chorus Pro) et factures Factur-X (EN 16931). "
            "Événements sur `billing.invoice.v1`, `billing.adhesion.v1`, "
            "`billing.convention.v1` et `billing.buyer.v1`."
        ),
        routers=[
            http.adhesions_router,
            http.tariffs_router,
            http.invoices_router,
            http.runs_router,
            http_conventions.conventions_router,
            http_buyers.buyers_router,
        ],
    )


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
