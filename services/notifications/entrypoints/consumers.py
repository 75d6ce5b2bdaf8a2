"""Subscribers of the notifications service: every event of the demandes, projects,
assignments, missions, conventions, adhésions and invoices is recorded as the deliveries it
causes; committing them wakes the dispatcher, which sends them. A project's phase events
also keep its newest state for Les Communs. The demandes' contacts come from the restricted
topic. The projection to the départements' integration topics reads every shared topic
in groups of its own (ADR 0020)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.notifications.bootstrap import (
    ConsumingUnitOfWork,
    Notifications,
    ProjectingUnitOfWork,
)
from services.notifications.service_layer import integration
from services.notifications.service_layer.events import record_contact, record_event
from services.notifications.service_layer.les_communs import follow_project
from shared.contracts.projects import ProjectPhaseClosed, ProjectPhaseOpened
from shared.contracts.registry import EVENT_MODELS
from shared.contracts.requests import ContactRecorded
from shared.contracts.topics import (
    BILLING_ADHESION,
    BILLING_CONVENTION,
    BILLING_INVOICE,
    INTEGRATION_PROJECTION,
    MATCHING_ASSIGNMENT,
    MATCHING_MISSION,
    PROJECTED_TOPICS,
    REQUESTS_CONTACT,
    REQUESTS_PROJECT,
    REQUESTS_REQUEST,
)
from shared.messaging.consumer import Received, Route
from shared.runtime import ServiceRuntime
from shared.settings import IntegrationSettings

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

    async def on_contact(uow: ConsumingUnitOfWork, event: Received[Any]) -> None:
        await record_contact(uow, event.payload, datetime.now(UTC))

    contacts = runtime.consumer(
        notifications.consumer_unit_of_work,
        {ContactRecorded.event_type: Route(ContactRecorded, on_contact)},
    )
    runtime.subscribe(REQUESTS_CONTACT.name, contacts)
    register_projection(runtime, notifications, IntegrationSettings().codes)


def register_projection(
    runtime: ServiceRuntime, notifications: Notifications, served: tuple[str, ...]
) -> None:
    """Every shared event of a département served, to its ``dept.<code>.events.v1``."""

    async def on_shared_event(uow: ProjectingUnitOfWork, event: Received[Any]) -> None:
        assert event.record is not None  # the idempotent consumer always gives it
        await integration.project(uow, event.envelope, event.payload, event.record, served)

    projected = {t.name for t in PROJECTED_TOPICS}
    routes = {
        m.event_type: Route(m, on_shared_event)
        for m in EVENT_MODELS
        if m.topic in projected and not m.personal_data
    }
    projection = runtime.consumer(
        notifications.projection_unit_of_work, routes, dead_letters_as=INTEGRATION_PROJECTION
    )
    for topic in sorted(projected):
        runtime.subscribe(topic, projection, group_suffix=INTEGRATION_PROJECTION)
