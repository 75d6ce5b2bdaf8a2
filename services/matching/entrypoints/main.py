"""``mg-matching``: the matching service process (HTTP API, subscribers, expiry sweep,
outbox relay)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.matching.config import MatchingRules
from services.matching.entrypoints import consumers, http
from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "matching"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(runtime: ServiceRuntime, rules: MatchingRules | None = None) -> FastAPI:
    rules = rules or MatchingRules()
    consumers.register(runtime, rules)
    app = create_app(
        runtime,
        title="Matière Grise — mise en relation",
        description=(
            "Oriente chaque demande vers les acteurs compétents (thèmes, phases, territoire, "
            "capacité), avec les raisons ; les acteurs acceptent, déclinent, terminent leurs "
            "missions. Événements sur `matching.assignment.v1` et `matching.actor.v1`."
        ),
        routers=[
            http.actors_router,
            http.assignments_router,
            http.unmatched_router,
        ],
    )
    app.state.matching_rules = rules
    return app


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
