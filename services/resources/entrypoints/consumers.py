"""Subscribers of the resources service.

- Every event the activity reports count (``reports.REPORTED_EVENTS``: demandes, matching,
  invoices, adhésions, trainings) adds its fact to the reports' projection.
- A mission that closes (matching's ``assignment.completed``) also drafts its retour
  d'expérience for the actor and schedules its satisfaction survey.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.resources import bootstrap
from services.resources.service_layer import experiences, reports, surveys
from services.resources.service_layer.ports import UnitOfWork
from shared.contracts.matching import AssignmentCompleted
from shared.messaging.consumer import Received, Route
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime


async def on_reported(uow: UnitOfWork, event: Received[Any]) -> None:
    await reports.record(uow, event.envelope.id, event.payload, get_territories())


async def on_completed(uow: UnitOfWork, event: Received[Any]) -> None:
    payload: AssignmentCompleted = event.payload
    territories = get_territories()
    # The fact and the survey first: drafting commits the transaction, them and the inbox
    # row with it.
    await reports.record(uow, event.envelope.id, payload, territories)
    await surveys.schedule(uow, payload)
    await experiences.draft_from_mission(
        uow, payload, territories, datetime.now(UTC), caused_by=event.envelope
    )


def register(runtime: ServiceRuntime) -> None:
    for topic, models in reports.REPORTED_EVENTS.items():
        consumer = bootstrap.consumer(
            runtime,
            {
                model.event_type: Route(
                    model, on_completed if model is AssignmentCompleted else on_reported
                )
                for model in models
            },
        )
        runtime.subscribe(topic, consumer)
