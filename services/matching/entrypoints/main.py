"""``mg-matching``: the matching service process (HTTP API, subscribers, expiry sweep,
outbox relay); ``mg-matching rebuild-memberships`` rebuilds its projection of the
adhésions from the topic."""

from __future__ import annotations

from pathlib import Path

import typer
from fastapi import FastAPI

from services.matching import bootstrap
from services.matching.config import MatchingRules, MissionSettings
from services.matching.entrypoints import consumers, http, memberships_cli, missions_http
from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "matching"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(
    runtime: ServiceRuntime,
    rules: MatchingRules | None = None,
    mission_settings: MissionSettings | None = None,
) -> FastAPI:
    rules = rules or MatchingRules()
    mission_settings = mission_settings or MissionSettings()
    consumers.register(runtime, rules)
    app = create_app(
        runtime,
        title="Matière Grise — mise en relation",
        description=(
            "Oriente chaque demande vers les acteurs compétents (thèmes, phases, territoire, "
            "capacité), avec les raisons ; les acteurs acceptent, déclinent, terminent leurs "
            "missions, jalons et livrables. Événements sur `matching.assignment.v1`, "
            "`matching.mission.v1` et `matching.actor.v1`."
        ),
        routers=[
            http.actors_router,
            http.assignments_router,
            http.unmatched_router,
            missions_http.missions_router,
            missions_http.handovers_router,
            http.members_router,
        ],
    )
    app.state.matching_rules = rules
    app.state.mission_settings = mission_settings
    app.state.content_store = bootstrap.content_store(runtime, mission_settings)
    return app


app = typer.Typer(help="The matching service.", add_completion=False)


@app.callback(invoke_without_command=True)
def serve(context: typer.Context) -> None:
    """Without a command: run the service."""
    if context.invoked_subcommand is None:
        run_service(NAME, MIGRATIONS, build)


@app.command("rebuild-memberships")
def rebuild_memberships() -> None:
    """Rebuild the projection of the adhésions from offset 0 of billing.adhesion.v1."""
    memberships_cli.rebuild_memberships(NAME, MIGRATIONS)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
