"""Subscribers of the matching service: new and withdrawn demandes; the expiry sweep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.matching.config import MatchingRules
from services.matching.service_layer import use_cases
from services.matching.service_layer.unit_of_work import MatchingUnitOfWork
from shared.contracts.requests import RequestSubmitted, RequestWithdrawn
from shared.contracts.topics import REQUESTS_REQUEST
from shared.messaging.consumer import IdempotentConsumer, Received, Route
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, rules: MatchingRules) -> None:
    policy = rules.policy()

    unit_of_work = runtime.unit_of_work(MatchingUnitOfWork)

    async def on_submitted(uow: MatchingUnitOfWork, event: Received[Any]) -> None:
        await use_cases.route_demande(
            uow, event.payload, event.envelope, policy, get_territories(), datetime.now(UTC)
        )

    async def on_withdrawn(uow: MatchingUnitOfWork, event: Received[Any]) -> None:
        await use_cases.follow_withdrawal(uow, event.payload, event.envelope, datetime.now(UTC))

    consumer = IdempotentConsumer[MatchingUnitOfWork](
        service=runtime.name,
        uow_factory=unit_of_work,
        routes={
            RequestSubmitted.event_type: Route(RequestSubmitted, on_submitted),
            RequestWithdrawn.event_type: Route(RequestWithdrawn, on_withdrawn),
        },
        dead_letters=runtime.dead_letters,
        max_attempts=runtime.kafka.max_attempts,
        redelivery_backoff_seconds=runtime.kafka.redelivery_backoff_seconds,
    )
    runtime.subscribe(REQUESTS_REQUEST.name, consumer)

    async def sweep_expired() -> None:
        while True:
            async with unit_of_work() as uow:
                expired = await use_cases.expire_due(
                    uow, policy, get_territories(), datetime.now(UTC)
                )
            if expired:
                runtime.relay.wake()
            else:
                return

    runtime.every(rules.expiry_scan_seconds, sweep_expired, name="matching-expiry-sweep")
