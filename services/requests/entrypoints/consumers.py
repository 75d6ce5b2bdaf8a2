"""Subscribers of the requests service: commands sent by département systems, and the
matching service's events, which the demandes follow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.requests.domain.progress import AssignmentView
from services.requests.service_layer import use_cases
from services.requests.service_layer.unit_of_work import RequestsUnitOfWork
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.requests import SubmitRequestCommand
from shared.contracts.topics import MATCHING_ASSIGNMENT, REQUESTS_COMMAND
from shared.errors import Conflict, DomainValidationError
from shared.messaging.consumer import (
    Handler,
    IdempotentConsumer,
    Received,
    RejectedEvent,
    Route,
)
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


def _follow(status: str) -> Handler[RequestsUnitOfWork]:
    async def handle(uow: RequestsUnitOfWork, event: Received[Any]) -> None:
        payload = event.payload
        proposed = isinstance(payload, AssignmentProposed)
        view = AssignmentView(
            assignment_id=payload.assignment_id,
            actor_id=payload.actor_id,
            actor_name=payload.actor_name,
            lead=payload.lead if proposed else False,
            needs=[f"{n.theme.value}/{n.phase.value}" for n in payload.needs] if proposed else [],
            status=status,
            updated_at=event.envelope.time,
        )
        await use_cases.follow_assignment(uow, payload.request_id, view, datetime.now(UTC))

    return handle


async def on_unmatched(uow: RequestsUnitOfWork, event: Received[Any]) -> None:
    payload: RequestUnmatched = event.payload
    await use_cases.follow_assignment(
        uow, payload.request_id, None, datetime.now(UTC), unmatched_summary=payload.summary_text
    )


def register(runtime: ServiceRuntime) -> None:
    def consumer(routes: dict[str, Route[RequestsUnitOfWork]]) -> IdempotentConsumer[Any]:
        return IdempotentConsumer[RequestsUnitOfWork](
            service=runtime.name,
            uow_factory=runtime.unit_of_work(RequestsUnitOfWork),
            routes=routes,
            dead_letters=runtime.dead_letters,
            max_attempts=runtime.kafka.max_attempts,
            redelivery_backoff_seconds=runtime.kafka.redelivery_backoff_seconds,
        )

    commands = consumer(
        {SubmitRequestCommand.event_type: Route(SubmitRequestCommand, on_submit_command)}
    )
    progress = consumer(
        {
            AssignmentProposed.event_type: Route(AssignmentProposed, _follow("proposed")),
            AssignmentAccepted.event_type: Route(AssignmentAccepted, _follow("accepted")),
            AssignmentDeclined.event_type: Route(AssignmentDeclined, _follow("declined")),
            AssignmentExpired.event_type: Route(AssignmentExpired, _follow("expired")),
            AssignmentCompleted.event_type: Route(AssignmentCompleted, _follow("completed")),
            AssignmentCancelled.event_type: Route(AssignmentCancelled, _follow("cancelled")),
            RequestUnmatched.event_type: Route(RequestUnmatched, on_unmatched),
        }
    )
    for topic, handler in ((REQUESTS_COMMAND.name, commands), (MATCHING_ASSIGNMENT.name, progress)):
        runtime.subscribe(topic, handler)
