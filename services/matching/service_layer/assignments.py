"""Use cases of the assignment: an actor accepts or declines a proposal, completes its
mission; late proposals expire; the team and the actors list and read them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from services.matching.domain.lifecycle import (
    Assignment,
    AssignmentFilter,
    AssignmentStatus,
    InvalidTransition,
)
from services.matching.domain.routing import Policy
from services.matching.service_layer.assignment_events import (
    actor_name,
    cancel,
    need_refs,
    record,
)
from services.matching.service_layer.missions import start_plan
from services.matching.service_layer.ports import UnitOfWork
from services.matching.service_layer.routing import propose_next
from services.matching.service_layer.scopes import scope_departement
from shared.auth.tokens import Principal, Role
from shared.contracts.conventions import ConventionExpired
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
)
from shared.contracts.vocabulary import RequesterKind
from shared.errors import Conflict, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.refdata import Territories

COLLECTIVITES_ELSEWHERE = "Les collectivités suivent leurs demandes dans le service des demandes."


def _ensure_may_answer(principal: Principal, assignment: Assignment) -> None:
    if principal.role is Role.ADMIN:
        return
    if principal.departement != assignment.departement:
        raise Forbidden("Cette mise en relation relève d'un autre département.")
    if principal.role is Role.ACTOR and principal.scope != assignment.actor_id:
        raise Forbidden("Cette mise en relation est adressée à un autre acteur.")
    if principal.role not in (Role.ACTOR, Role.DEPARTEMENT):
        raise Forbidden("Seul l'acteur sollicité ou l'équipe du département peut répondre.")


async def _locked(uow: UnitOfWork, assignment_id: UUID) -> Assignment:
    assignment = await uow.assignments.get(assignment_id, lock=True)
    if assignment is None:
        raise NotFound("Mise en relation introuvable.")
    return assignment


async def accept(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: UUID,
    now: datetime,
    agent: str | None = None,
) -> Assignment:
    """The mission starts with its phase's default milestones; ``agent`` (the actor's
    agent in charge) defaults to whoever accepted for the actor."""
    assignment = await _locked(uow, assignment_id)
    _ensure_may_answer(principal, assignment)
    in_charge = agent or (principal.subject if principal.role is Role.ACTOR else None)
    try:
        assignment.accept(now, in_charge)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from exc
    await uow.assignments.save(assignment)
    await start_plan(uow, assignment, now)
    demande = await uow.demandes.get(assignment.request_id)
    _, kind = await actor_name(uow, assignment.actor_id)
    # Billing prepares the convention from this event alone: who, for whom, for what.
    await record(
        uow,
        assignment,
        AssignmentAccepted,
        accepted_at=now,
        lead=assignment.lead,
        actor_kind=kind,
        requester_code=assignment.requester_code,
        requester_kind=demande.requester_kind if demande else RequesterKind.COMMUNE,
        needs=need_refs(assignment.needs),
    )
    await uow.commit()
    return assignment


async def decline(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: UUID,
    reason: str | None,
    policy: Policy,
    territories: Territories,
    now: datetime,
) -> Assignment:
    assignment = await _locked(uow, assignment_id)
    _ensure_may_answer(principal, assignment)
    try:
        assignment.decline(reason, now)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from exc
    await uow.assignments.save(assignment)
    await record(uow, assignment, AssignmentDeclined, reason=reason, declined_at=now)
    await propose_next(uow, assignment, policy, territories, now)
    await uow.commit()
    return assignment


async def expire_due(
    uow: UnitOfWork, policy: Policy, territories: Territories, now: datetime, limit: int = 50
) -> int:
    """Expire the proposals past their deadline and propose the next candidates."""
    due = await uow.assignments.due_for_expiry(now, limit)
    for assignment in due:
        assignment.expire(now)
        await uow.assignments.save(assignment)
        await record(
            uow, assignment, AssignmentExpired, respond_by=assignment.respond_by, expired_at=now
        )
        await propose_next(uow, assignment, policy, territories, now)
    await uow.commit()
    return len(due)


async def complete(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: UUID,
    days_spent: Decimal,
    report: str | None,
    now: datetime,
) -> Assignment:
    assignment = await _locked(uow, assignment_id)
    _ensure_may_answer(principal, assignment)
    started_at = assignment.responded_at
    try:
        assignment.complete(days_spent, report, now)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from exc
    await uow.assignments.save(assignment)
    demande = await uow.demandes.get(assignment.request_id)
    name, kind = await actor_name(uow, assignment.actor_id)
    await uow.outbox.add(
        AssignmentCompleted(
            assignment_id=assignment.id,
            request_id=assignment.request_id,
            departement=assignment.departement,
            actor_id=assignment.actor_id,
            actor_name=name,
            actor_kind=kind,
            requester_code=assignment.requester_code,
            requester_kind=demande.requester_kind if demande else RequesterKind.COMMUNE,
            needs=need_refs(assignment.needs),
            days_spent=days_spent,
            report=report,
            started_at=started_at or assignment.proposed_at,
            completed_at=now,
        ),
        departement=assignment.departement,
        correlation_id=demande.correlation_id if demande else None,
    )
    await uow.commit()
    return assignment


async def list_assignments(
    uow: UnitOfWork,
    principal: Principal,
    *,
    status: AssignmentStatus | None,
    departement: str | None,
    limit: int,
    offset: int,
) -> list[Assignment]:
    """An actor sees its own assignments; the team those of its département."""
    if principal.role is Role.COLLECTIVITE:
        raise Forbidden(COLLECTIVITES_ELSEWHERE)
    criteria = AssignmentFilter(
        departement=scope_departement(principal, departement),
        actor_id=principal.scope if principal.role is Role.ACTOR else None,
        status=status,
    )
    return await uow.assignments.search(criteria, limit=limit, offset=offset)


async def read_assignment(uow: UnitOfWork, principal: Principal, assignment_id: UUID) -> Assignment:
    found = await uow.assignments.get(assignment_id)
    if found is None or not principal.can_act_for(found.departement):
        raise NotFound("Mise en relation introuvable.")
    if principal.role is Role.ACTOR and principal.scope != found.actor_id:
        raise Forbidden("Cette mise en relation est adressée à un autre acteur.")
    if principal.role is Role.COLLECTIVITE:
        raise Forbidden(COLLECTIVITES_ELSEWHERE)
    return found


CONVENTION_EXPIRED_REASON = "Convention non signée dans son délai de validité."


async def release_on_expired_convention(
    uow: UnitOfWork, event: ConventionExpired, envelope: Envelope, now: datetime
) -> bool:
    """The collectivité did not sign the mission's convention in time: the mission is
    cancelled and the actor's capacity comes back. An avenant that expires leaves the
    signed convention, and the mission, as they are."""
    if event.version != 0:
        return False
    assignment = await uow.assignments.get(event.assignment_id, lock=True)
    if assignment is None or assignment.status is not AssignmentStatus.ACCEPTED:
        return False
    await cancel(uow, assignment, CONVENTION_EXPIRED_REASON, envelope, now)
    return True
