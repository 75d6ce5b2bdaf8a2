"""``mg-billing``: the billing service process (HTTP API, subscribers, outbox relay)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from services.billing import bootstrap
from services.billing.entrypoints import consumers, http
from services.billing.service_layer.cotisation_run import interrupt_stale_runs
from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "billing"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(runtime: ServiceRuntime) -> FastAPI:
    consumers.register(runtime)

    unit_of_work = bootstrap.unit_of_work_factory(runtime)

    async def interrupt_stale() -> None:
        async with unit_of_work() as uow:
            await interrupt_stale_runs(uow, datetime.now(UTC))

    runtime.every(60.0, interrupt_stale, name="billing-stale-runs")
    return create_app(
        runtime,
        title="Matière Grise — facturation",
        description=(
            "Adhésions, tarifs versionnés, cotisations annuelles et frais de mission ; "
            "factures et avoirs numérotés sans trou par département et par année. "
            "Événements sur `billing.invoice.v1` et `billing.adhesion.v1`."
        ),
        routers=[
            http.adhesions_router,
            http.tariffs_router,
            http.invoices_router,
            http.runs_router,
        ],
    )


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
