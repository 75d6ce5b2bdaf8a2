"""``mg-notifications``: the notifications service process (HTTP API, subscribers,
dispatcher, reminders and digests, outbox relay)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notifications.bootstrap import Notifications
from services.notifications.config import NotificationSettings
from services.notifications.entrypoints import consumers, http
from services.notifications.entrypoints.jobs import Jobs
from shared.http.ssrf import Resolver
from shared.runtime import ServiceRuntime, create_app, run_service

NAME = "notifications"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(
    runtime: ServiceRuntime,
    settings: NotificationSettings | None = None,
    resolver: Resolver | None = None,
) -> FastAPI:
    """``resolver``: the webhook guard's DNS (the tests give a fake one)."""
    settings = settings or NotificationSettings()
    runtime.production_checks.append(settings.production_problems)
    notifications = Notifications(runtime, settings, resolver)
    jobs = Jobs(runtime, notifications)
    consumers.register(runtime, notifications)
    jobs.register()
    app = create_app(
        runtime,
        title="Matière Grise — notifications",
        description=(
            "Courriels et webhooks signés pour chaque étape, jamais perdus, jamais en double : "
            "abonnements aux événements, adresses des acteurs et des équipes, préférences des "
            "destinataires, suivi des livraisons. Issues sur `notifications.delivery.v1`."
        ),
        routers=http.ROUTERS,
    )
    app.state.notifications = notifications
    app.state.notification_jobs = jobs
    return app


def run() -> None:
    run_service(NAME, MIGRATIONS, build)


if __name__ == "__main__":
    run()
