"""``mg-requests``: the requests service process (HTTP API, command consumer, outbox relay)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.requests.entrypoints import consumers, http, projects_http
from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "requests"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(runtime: ServiceRuntime) -> FastAPI:
    consumers.register(runtime)
    return create_app(
        runtime,
        title="Matière Grise — demandes",
        description=(
            "Dépôt et suivi des demandes d'accompagnement des communes et EPCI. "
            "Chaque changement d'état est publié sur le sujet Kafka `requests.request.v1`, la vie "
            "des projets (phases ouvertes et closes, doublons présumés) sur `requests.project.v1`."
        ),
        routers=[http.router, projects_http.router],
    )


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
