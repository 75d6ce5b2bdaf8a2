"""``mg-notifications``: the notifications service process (HTTP API, subscribers, outbox relay)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "notifications"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(runtime: ServiceRuntime) -> FastAPI:
    return create_app(
        runtime,
        title="Matière Grise — notifications",
        description=(
            "Courriels et webhooks signés pour chaque étape, jamais perdus, jamais en double."
        ),
        routers=[],
    )


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
