"""Where the requests service's adapters meet its service layer, and nowhere else.

Every unit of work comes from the runtime's factory, so committing one that wrote to
the outbox wakes the relay, whichever entry point (route or subscriber) committed it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import Request

from services.requests.adapters.unit_of_work import RequestsUnitOfWork
from shared.messaging.consumer import IdempotentConsumer, Route
from shared.runtime import ServiceRuntime, unit_of_work_dependency

# FastAPI dependency: a fresh unit of work per HTTP request.
unit_of_work: Callable[[Request], RequestsUnitOfWork] = unit_of_work_dependency(RequestsUnitOfWork)


def subscriber(
    runtime: ServiceRuntime, routes: Mapping[str, Route[RequestsUnitOfWork]]
) -> IdempotentConsumer[RequestsUnitOfWork]:
    """An idempotent consumer running ``routes``, each event in its own unit of work."""
    return IdempotentConsumer[RequestsUnitOfWork](
        service=runtime.name,
        uow_factory=runtime.unit_of_work(RequestsUnitOfWork),
        routes=routes,
        dead_letters=runtime.dead_letters,
        max_attempts=runtime.kafka.max_attempts,
        redelivery_backoff_seconds=runtime.kafka.redelivery_backoff_seconds,
    )
