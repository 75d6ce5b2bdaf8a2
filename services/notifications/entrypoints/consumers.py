"""Subscribers of the notifications service: every event of the demandes, projects,
assignments, missions, conventions, adhésions and invoices is recorded as the deliveries it
causes; committing them wakes the dispatcher, which sends them. A project's phase events
also keep its newest state for Les Communs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.notifications.bootstrap import ConsumingUnitOfWork, Notifications
from services.notifications.service_layer.events import record_event
from services.notifications.service_layer.les_communs import follow_project
from shared.contracts.projects import ProjectPhaseClosed, ProjectPhaseOpened
from shared.contracts.registry import EVENT_MODELS
from shared.contracts.topics import (
    BILLING_ADHESION,
    BILLING_CONVENTION,
    BILLING_INVOICE,
    MATCHING_ASSIGNMENT,
    MATCHING_MISSION,
    REQUESTS_PROJECT,
    REQUESTS_REQUEST,
)
from shared.messaging.consumer import Received, Route
from shared.runtime import ServiceRuntime

CONSUMED_TOPICS = (
    REQUESTS_REQUEST.name,
    REQUESTS_PROJECT.name,
    MATCHING_ASSIGNMENT.name,
    MATCHING_MISSION.name,
    BILLING_ADHESION.name,
    BILLING_INVOICE.name,
    BILLING_CONVENTION.name,
)

# Every type of these topics: those without an email rule may still go to webhooks.
CONSUMED_TYPES = tuple(m.event_type for m in EVENT_MODELS if m.topic in CONSUMED_TOPICS)


def register(runtime: ServiceRuntime, notifications: Notifications) -> None:
    settings = notifications.settings

    async def on_event(uow: ConsumingUnitOfWork, event: Received[Any]) -> None:
        now = datetime.now(UTC)
        if isinstance(event.payload, ProjectPhaseOpened | ProjectPhaseClosed):
            # Kept for Les Communs in the same transaction as the processed event.
            await follow_project(uow, event.payload, now)
        await record_event(uow, event.envelope, event.payload, settings, now)

    routes = {m.event_type: Route(m, on_event) for m in EVENT_MODELS if m.topic in CONSUMED_TOPICS}
    consumer = runtime.consumer(notifications.consumer_unit_of_work, routes)
    for topic in CONSUMED_TOPICS:
        runtime.subscribe(topic, consumer)
