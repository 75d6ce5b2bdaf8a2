"""Subscribers of the requests service: commands sent by département systems."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.requests.service_layer import use_cases
from services.requests.service_layer.unit_of_work import RequestsUnitOfWork
from shared.contracts.requests import SubmitRequestCommand
from shared.contracts.topics import REQUESTS_COMMAND
from shared.http.errors import Conflict, DomainValidationError
from shared.messaging.consumer import IdempotentConsumer, Received, RejectedEvent, Route, subscribe
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime


async def on_submit_command(uow: RequestsUnitOfWork, event: Received[Any]) -> None:
    command: SubmitRequestCommand = event.payload
    submission = use_cases.Submission(
        draft=command,
        request_id=command.request_id,
        departement=event.envelope.departement,
        channel="event",
        submitted_by=f"system:{event.envelope.source}",
        caused_by=event.envelope,
    )
    try:
        await use_cases.submit_request(uow, submission, get_territories(), datetime.now(UTC))
    except DomainValidationError as exc:
        raise RejectedEvent("invalid_command", str(exc)) from exc
    except Conflict as exc:
        raise RejectedEvent("conflict", exc.message) from exc


def register(runtime: ServiceRuntime) -> IdempotentConsumer[RequestsUnitOfWork]:
    consumer = IdempotentConsumer[RequestsUnitOfWork](
        service=runtime.name,
        uow_factory=lambda: RequestsUnitOfWork(runtime.session_factory, source=runtime.name),
        routes={SubmitRequestCommand.event_type: Route(SubmitRequestCommand, on_submit_command)},
        dead_letters=runtime.dead_letters,
        max_attempts=runtime.kafka.max_attempts,
        redelivery_backoff_seconds=runtime.kafka.redelivery_backoff_seconds,
        after_commit=runtime.relay.wake,
    )
    subscribe(
        runtime.broker,
        REQUESTS_COMMAND.name,
        group_id=runtime.settings.consumer_group,
        consumer=consumer,
        offset_reset=runtime.settings.consumer_offset_reset,
    )
    return consumer
