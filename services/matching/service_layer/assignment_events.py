"""The events an assignment's changes write to the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.matching.domain.lifecycle import Assignment
from services.matching.domain.model import Criteria, Need
from services.matching.service_layer.ports import UnitOfWork
from shared.contracts.matching import AssignmentCancelled, AssignmentEvent, CriteriaRef, NeedRef
from shared.messaging.envelope import Envelope


def criteria_ref(c: Criteria) -> CriteriaRef:
    return CriteriaRef(
        coverage=c.coverage,
        expertise=c.expertise,
        load=c.load,
        continuity=c.continuity,
        locality=c.locality,
        score=c.score,
    )


def need_refs(needs: Sequence[Need]) -> list[NeedRef]:
    return [NeedRef(theme=n.theme, phase=n.phase) for n in needs]


async def actor_name(uow: UnitOfWork, actor_id: str) -> tuple[str, str]:
    """The actor's name and kind as events show them, even if it left the catalogue."""
    actor = await uow.actors.get(actor_id)
    return (actor.name, actor.kind.value) if actor else (actor_id, "autre")


async def record(
    uow: UnitOfWork,
    assignment: Assignment,
    event: type[AssignmentEvent],
    *,
    caused_by: Envelope | None = None,
    **fields: object,
) -> None:
    """Write an assignment event with the fields every such event carries."""
    name, _ = await actor_name(uow, assignment.actor_id)
    payload = event.model_validate(
        {
            "assignment_id": assignment.id,
            "request_id": assignment.request_id,
            "departement": assignment.departement,
            "actor_id": assignment.actor_id,
            "actor_name": name,
            **fields,
        }
    )
    correlation = None
    if caused_by is None:
        demande = await uow.demandes.get(assignment.request_id)
        correlation = demande.correlation_id if demande else None
    await uow.outbox.add(
        payload, departement=assignment.departement, caused_by=caused_by, correlation_id=correlation
    )


async def cancel(
    uow: UnitOfWork, assignment: Assignment, reason: str, caused_by: Envelope, now: datetime
) -> None:
    """Cancel an open assignment (its capacity comes back) and say so."""
    was_accepted = assignment.cancel(reason, now)
    await uow.assignments.save(assignment)
    await record(
        uow,
        assignment,
        AssignmentCancelled,
        caused_by=caused_by,
        was_accepted=was_accepted,
        reason=reason,
        cancelled_at=now,
    )
