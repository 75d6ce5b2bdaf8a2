"""``mg-resources``: the resources service process (HTTP API, consumers, outbox relay)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.resources.config import SurveySettings
from services.resources.entrypoints import (
    consumers,
    experiences_http,
    http,
    jobs,
    reports_http,
    surveys_http,
    trainings_http,
)
from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "resources"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(runtime: ServiceRuntime) -> FastAPI:
    runtime.production_checks.append(SurveySettings().production_problems)
    consumers.register(runtime)
    jobs.register(runtime)
    return create_app(
        runtime,
        title="Matière Grise — ressources et échanges",
        description=(
            "Fiches documentaires des départements et nationales, recherche plein texte en "
            "français, sessions de formation avec liste d'attente, retours d'expérience des "
            "missions. Publié sur `resources.sheet.v1`, `resources.training.v1` et "
            "`resources.experience.v1`. Rapports d'activité des départements, calculés à partir "
            "des seuls événements."
        ),
        routers=[
            http.router,
            trainings_http.router,
            experiences_http.router,
            reports_http.router,
            surveys_http.router,
        ],
    )


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
