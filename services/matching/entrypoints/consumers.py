"""Subscribers of the matching service: new and withdrawn demandes, billing's adhésions
(its projection of the members), conventions that expired unsigned; the expiry sweep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.matching import bootstrap
from services.matching.config import MatchingRules
from services.matching.service_layer import assignments, memberships, routing
from services.matching.service_layer.ports import UnitOfWork
from shared.contracts.billing import AdhesionEnded, AdhesionRegistered
from shared.contracts.conventions import ConventionExpired
from shared.contracts.requests import RequestSubmitted, RequestSubmittedV2, RequestWithdrawn
from shared.contracts.topics import BILLING_ADHESION, BILLING_CONVENTION, REQUESTS_REQUEST
from shared.messaging.consumer import Received, Route
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, rules: MatchingRules) -> None:
    policy = rules.policy()

    async def on_submitted(uow: UnitOfWork, event: Received[Any]) -> None:
        await routing.route_demande(
            uow, event.payload, event.envelope, policy, get_territories(), datetime.now(UTC)
        )

    async def on_withdrawn(uow: UnitOfWork, event: Received[Any]) -> None:
        await routing.follow_withdrawal(uow, event.payload, event.envelope, datetime.now(UTC))

    async def on_adhesion(uow: UnitOfWork, event: Received[Any]) -> None:
        await memberships.apply(uow, [event.payload])

    consumer = bootstrap.consumer(
        runtime,
        {
            RequestSubmitted.event_type: Route(RequestSubmitted, on_submitted),
            RequestSubmittedV2.event_type: Route(RequestSubmittedV2, on_submitted),
            RequestWithdrawn.event_type: Route(RequestWithdrawn, on_withdrawn),
            AdhesionRegistered.event_type: Route(AdhesionRegistered, on_adhesion),
            AdhesionEnded.event_type: Route(AdhesionEnded, on_adhesion),
        },
    )
    runtime.subscribe(REQUESTS_REQUEST.name, consumer)
    runtime.subscribe(BILLING_ADHESION.name, consumer)

    async def on_convention_expired(uow: UnitOfWork, event: Received[Any]) -> None:
        await assignments.release_on_expired_convention(
            uow, event.payload, event.envelope, datetime.now(UTC)
        )

    runtime.subscribe(
        BILLING_CONVENTION.name,
        bootstrap.consumer(
            runtime,
            {ConventionExpired.event_type: Route(ConventionExpired, on_convention_expired)},
        ),
    )

    unit_of_work = bootstrap.unit_of_work_factory(runtime)

    async def sweep_expired() -> None:
        # Batch after batch until none is due; each commit wakes the relay.
        expired = True
        while expired:
            async with unit_of_work() as uow:
                expired = bool(
                    await assignments.expire_due(uow, policy, get_territories(), datetime.now(UTC))
                )

    runtime.every(rules.expiry_scan_seconds, sweep_expired, name="matching-expiry-sweep")
