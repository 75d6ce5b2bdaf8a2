"""Where the resources service's adapters meet its service layer, and nowhere else.

Every unit of work comes from the runtime's factory, so committing one that wrote to
the outbox wakes the relay, whichever entry point (route or subscriber) committed it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import Request

from services.resources.adapters.unit_of_work import ResourcesUnitOfWork
from shared.messaging.consumer import IdempotentConsumer, Route
from shared.runtime import ServiceRuntime, unit_of_work_dependency

# FastAPI dependency: a fresh unit of work per HTTP request.
http_unit_of_work: Callable[[Request], ResourcesUnitOfWork] = unit_of_work_dependency(
    ResourcesUnitOfWork
)


def unit_of_work_factory(runtime: ServiceRuntime) -> Callable[[], ResourcesUnitOfWork]:
    """Units of work of the running service; committing one wakes the relay."""
    return runtime.unit_of_work(ResourcesUnitOfWork)


def consumer(
    runtime: ServiceRuntime, routes: Mapping[str, Route[ResourcesUnitOfWork]]
) -> IdempotentConsumer[ResourcesUnitOfWork]:
    """An idempotent consumer running ``routes``, each event in its own unit of work."""
    return runtime.consumer(unit_of_work_factory(runtime), routes)
