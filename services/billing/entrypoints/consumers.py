"""Subscribers of the billing service: completed missions are invoiced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.billing.service_layer import use_cases
from services.billing.service_layer.unit_of_work import BillingUnitOfWork
from shared.contracts.matching import AssignmentCompleted
from shared.contracts.topics import MATCHING_ASSIGNMENT
from shared.messaging.consumer import IdempotentConsumer, Received, Route
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime


async def on_completed(uow: BillingUnitOfWork, event: Received[Any]) -> None:
    invoice = await use_cases.invoice_mission(
        uow, event.payload, event.envelope, get_territories(), datetime.now(UTC)
    )
    if invoice is not None:
        # Counted before the consumer's commit: a failed commit is redelivered and
        # counted again, an overcount the metric's readers accept.
        use_cases.count_issued([invoice])


def register(runtime: ServiceRuntime) -> None:
    consumer = IdempotentConsumer[BillingUnitOfWork](
        service=runtime.name,
        uow_factory=runtime.unit_of_work(BillingUnitOfWork),
        routes={AssignmentCompleted.event_type: Route(AssignmentCompleted, on_completed)},
        dead_letters=runtime.dead_letters,
        max_attempts=runtime.kafka.max_attempts,
        redelivery_backoff_seconds=runtime.kafka.redelivery_backoff_seconds,
    )
    runtime.subscribe(MATCHING_ASSIGNMENT.name, consumer)
