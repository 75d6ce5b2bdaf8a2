"""Subscribers of the resources service: a mission that closes (matching's
``assignment.completed``) drafts its retour d'expérience for the actor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.resources import bootstrap
from services.resources.service_layer import experiences
from services.resources.service_layer.ports import UnitOfWork
from shared.contracts.matching import AssignmentCompleted
from shared.contracts.topics import MATCHING_ASSIGNMENT
from shared.messaging.consumer import Received, Route
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime


async def on_completed(uow: UnitOfWork, event: Received[Any]) -> None:
    payload: AssignmentCompleted = event.payload
    await experiences.draft_from_mission(
        uow, payload, get_territories(), datetime.now(UTC), caused_by=event.envelope
    )


def register(runtime: ServiceRuntime) -> None:
    missions = bootstrap.consumer(
        runtime, {AssignmentCompleted.event_type: Route(AssignmentCompleted, on_completed)}
    )
    runtime.subscribe(MATCHING_ASSIGNMENT.name, missions)
