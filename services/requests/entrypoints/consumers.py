"""Subscribers of the requests service: commands sent by département systems (submit a
demande, open a project's next phase) on their own ``dept.<code>.commands.v1``, whose
département is the topic's (ADR 0020), or on the internal ``requests.command.v1``; and the
matching service's events, which the demandes follow."""

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
from shared.contracts.topics import (
    MATCHING_ASSIGNMENT,
    MATCHING_MISSION,
    REQUESTS_COMMAND,
    departement_commands,
    departement_of_commands,
)
from shared.errors import Conflict, DomainValidationError, Forbidden, NotFound
from shared.messaging.consumer import Received, RejectedEvent, Route
from shared.refdata import get_territories
from shared.runtime import ServiceRuntime
from shared.settings import IntegrationSettings


def command_departement(event: Received[Any]) -> str:
    """The département a command acts for: its topic's, for a département's system (ADR
    0020), whatever its header claims; the header's only on the internal
    ``requests.command.v1``. A header that claims another département is refused."""
    own = departement_of_commands(event.topic)
    if own is None:
        return event.envelope.departement
    if event.envelope.departement != own:
        raise RejectedEvent(
            "departement_mismatch",
            f"command on {event.topic} claims département {event.envelope.departement}",
        )
    return own


async def on_submit_command(uow: UnitOfWork, event: Received[Any]) -> None:
    command: SubmitRequestCommand = event.payload
    # A collectivité of another département is then refused as over HTTP.
    departement = command_departement(event)
    submission = demandes.Submission(
        draft=command,
        request_id=command.request_id,
        departement=departement,
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
        Role.DEPARTEMENT, f"system:{event.envelope.source}", command_departement(event)
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
    for code in IntegrationSettings().codes:
        runtime.subscribe(departement_commands(code).name, commands)
    for topic, handler in (
        (REQUESTS_COMMAND.name, commands),
        (MATCHING_ASSIGNMENT.name, progress),
        (MATCHING_MISSION.name, missions),
    ):
        runtime.subscribe(topic, handler)
