"""Subscribers of the requests service: commands sent by département systems (submit a
demande, open a project's next phase), and the matching service's events, which the
demandes follow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from services.requests import bootstrap
from services.requests.domain.progress import AssignmentView
from services.requests.service_layer import demandes, projects
from services.requests.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.missions import DeliverableAdded
from shared.contracts.requests import OpenNextPhaseCommand, SubmitRequestCommand
from shared.contracts.topics import MATCHING_ASSIGNMENT, MATCHING_MISSION, REQUESTS_COMMAND
from shared.errors import Conflict, DomainValidationError, Forbidden, NotFound
from shared.messaging.consumer import Received, RejectedEvent, Route
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime


async def on_submit_command(uow: UnitOfWork, event: Received[Any]) -> None:
    command: SubmitRequestCommand = event.payload
    submission = demandes.Submission(
        draft=command,
        request_id=command.request_id,
        departement=event.envelope.departement,
        channel="event",
        submitted_by=f"system:{event.envelope.source}",
        caused_by=event.envelope,
    )
    try:
        await demandes.submit_request(uow, submission, get_territories(), datetime.now(UTC))
    except DomainValidationError as exc:
        raise RejectedEvent("invalid_command", str(exc)) from exc
    except Conflict as exc:
        raise RejectedEvent("conflict", exc.message) from exc


async def on_next_phase_command(uow: UnitOfWork, event: Received[Any]) -> None:
    command: OpenNextPhaseCommand = event.payload
    # The département's system acts as its team, for its own département only.
    system = Principal(
        Role.DEPARTEMENT, f"system:{event.envelope.source}", event.envelope.departement
    )
    wanted = projects.NextPhase(
        new_demande_id=command.new_request_id,
        phase=command.phase,
        title=command.title,
        description=command.description,
        themes=command.themes,
        deliverables=list(command.deliverables),
        channel="event",
    )
    try:
        await projects.open_next_phase(
            uow, system, command.request_id, wanted, datetime.now(UTC), caused_by=event.envelope
        )
    except (DomainValidationError, Forbidden, NotFound) as exc:
        raise RejectedEvent("invalid_command", str(exc)) from exc
    except Conflict as exc:
        raise RejectedEvent("conflict", exc.message) from exc


def _follow(status: str) -> Callable[[UnitOfWork, Received[Any]], Awaitable[None]]:
    async def handle(uow: UnitOfWork, event: Received[Any]) -> None:
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
        await demandes.follow_assignment(uow, payload.request_id, view, datetime.now(UTC))

    return handle


async def on_unmatched(uow: UnitOfWork, event: Received[Any]) -> None:
    payload: RequestUnmatched = event.payload
    await demandes.follow_assignment(
        uow, payload.request_id, None, datetime.now(UTC), unmatched_summary=payload.summary_text
    )


async def on_deliverable(uow: UnitOfWork, event: Received[Any]) -> None:
    payload: DeliverableAdded = event.payload
    await projects.follow_deliverable(uow, payload.request_id, payload.deliverable.download_url)


def register(runtime: ServiceRuntime) -> None:
    commands = bootstrap.consumer(
        runtime,
        {
            SubmitRequestCommand.event_type: Route(SubmitRequestCommand, on_submit_command),
            OpenNextPhaseCommand.event_type: Route(OpenNextPhaseCommand, on_next_phase_command),
        },
    )
    progress = bootstrap.consumer(
        runtime,
        {
            AssignmentProposed.event_type: Route(AssignmentProposed, _follow("proposed")),
            AssignmentAccepted.event_type: Route(AssignmentAccepted, _follow("accepted")),
            AssignmentDeclined.event_type: Route(AssignmentDeclined, _follow("declined")),
            AssignmentExpired.event_type: Route(AssignmentExpired, _follow("expired")),
            AssignmentCompleted.event_type: Route(AssignmentCompleted, _follow("completed")),
            AssignmentCancelled.event_type: Route(AssignmentCancelled, _follow("cancelled")),
            RequestUnmatched.event_type: Route(RequestUnmatched, on_unmatched),
        },
    )
    missions = bootstrap.consumer(
        runtime, {DeliverableAdded.event_type: Route(DeliverableAdded, on_deliverable)}
    )
    for topic, handler in (
        (REQUESTS_COMMAND.name, commands),
        (MATCHING_ASSIGNMENT.name, progress),
        (MATCHING_MISSION.name, missions),
    ):
        runtime.subscribe(topic, handler)
