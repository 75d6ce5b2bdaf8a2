"""Subscribers of the billing service: a lead actor's acceptance prepares the demande's
convention; a completed mission is invoiced on its signed convention's schedule; a demande
left unmatched for want of an adhésion gets the membership offer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.billing import bootstrap
from services.billing.service_layer.conventions import prepare_convention
from services.billing.service_layer.invoices import count_issued
from services.billing.service_layer.mission_invoices import invoice_mission
from services.billing.service_layer.offers import offer_membership
from services.billing.service_layer.ports import UnitOfWork
from shared.contracts.matching import AssignmentAccepted, AssignmentCompleted, RequestUnmatched
from shared.contracts.topics import MATCHING_ASSIGNMENT
from shared.messaging.consumer import Received, Route
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime


async def on_accepted(uow: UnitOfWork, event: Received[Any]) -> None:
    await prepare_convention(
        uow, event.payload, event.envelope, get_territories(), datetime.now(UTC)
    )


async def on_completed(uow: UnitOfWork, event: Received[Any]) -> None:
    invoice = await invoice_mission(uow, event.payload, event.envelope)
    if invoice is not None:
        # Counted before the consumer's commit: a failed commit is redelivered and
        # counted again, an overcount the metric's readers accept.
        count_issued([invoice])


async def on_unmatched(uow: UnitOfWork, event: Received[Any]) -> None:
    await offer_membership(uow, event.payload, event.envelope, get_territories(), datetime.now(UTC))


def register(runtime: ServiceRuntime) -> None:
    consumer = bootstrap.consumer(
        runtime,
        {
            AssignmentAccepted.event_type: Route(AssignmentAccepted, on_accepted),
            AssignmentCompleted.event_type: Route(AssignmentCompleted, on_completed),
            RequestUnmatched.event_type: Route(RequestUnmatched, on_unmatched),
        },
    )
    runtime.subscribe(MATCHING_ASSIGNMENT.name, consumer)
