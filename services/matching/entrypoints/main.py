"""``mg-matching``: the matching service process (HTTP API, subscribers, outbox relay)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "matching"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(runtime: ServiceRuntime) -> FastAPI:
    return create_app(
        runtime,
        title="Matière Grise — mise en relation",
        description=(
            "Oriente chaque demande vers les acteurs compétents "
            "(thèmes, phases, territoire, capacité), avec les raisons."
        ),
        routers=[],
    )


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
