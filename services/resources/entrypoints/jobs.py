"""Periodic jobs of the resources service: the trainings' reminders, the satisfaction
surveys due, the alerts on actors that decline or let expire too many proposals."""

from __future__ import annotations

from datetime import UTC, datetime

from services.resources import bootstrap
from services.resources.config import AlertSettings
from services.resources.service_layer import alerts, surveys, training_follow_up
from shared.runtime import ServiceRuntime

# Reminders are due to the day: a look every five minutes is early enough.
REMINDERS_EVERY_SECONDS = 300.0
# Actors' decline and expiry rates move with each proposal: an hourly look is enough.
ALERTS_EVERY_SECONDS = 3600.0


def register(runtime: ServiceRuntime) -> None:
    new_uow = bootstrap.unit_of_work_factory(runtime)

    async def reminders() -> int:
        async with new_uow() as uow:
            return await training_follow_up.send_due_reminders(uow, datetime.now(UTC))

    runtime.every(REMINDERS_EVERY_SECONDS, reminders, "resources-training-reminders")
    secret = bootstrap.survey_secret()

    async def surveys_due() -> int:
        async with new_uow() as uow:
            return await surveys.send_due(uow, secret, datetime.now(UTC))

    runtime.every(REMINDERS_EVERY_SECONDS, surveys_due, "resources-surveys-due")
    settings = AlertSettings()

    async def actor_alerts() -> int:
        async with new_uow() as uow:
            raised = await alerts.raise_alerts(
                uow, datetime.now(UTC), settings.alert_rate, settings.alert_min_proposals
            )
        return len(raised)

    runtime.every(ALERTS_EVERY_SECONDS, actor_alerts, "resources-actor-alerts")
