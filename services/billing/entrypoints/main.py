"""``mg-billing``: the billing service process (HTTP API, subscribers, outbox relay)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "billing"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(runtime: ServiceRuntime) -> FastAPI:
    return create_app(
        runtime,
        title="Matière Grise — facturation",
        description=(
            "Cotisations des adhérents, frais de mission, "
            "factures et avoirs à numérotation continue."
        ),
        routers=[],
    )


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
