"""Use case: the département's team proposes the actor it chose for an unmatched demande,
with its reason. The proposal then lives as any other: the actor accepts or declines,
it expires, billing prepares the convention on acceptance."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from services.matching.domain import hand_routing
from services.matching.domain.lifecycle import Assignment, AssignmentStatus
from services.matching.domain.model import ActorState
from services.matching.domain.routing import Policy
from services.matching.service_layer.assignment_events import criteria_ref, need_refs
from services.matching.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentProposed
from shared.errors import Conflict, DomainValidationError, FieldError, Forbidden, NotFound


async def route_by_hand(
    uow: UnitOfWork,
    principal: Principal,
    request_id: UUID,
    actor_id: str,
    reason: str,
    policy: Policy,
    now: datetime,
) -> Assignment:
    if principal.role not in (Role.DEPARTEMENT, Role.ADMIN):
        raise Forbidden("Réservé à l'équipe du département.")
    demande = await uow.demandes.get(request_id, lock=True)
    if demande is None or not principal.can_act_for(demande.departement):
        raise NotFound("Demande introuvable.")
    if demande.status != "unmatched":
        raise Conflict("Seule une demande sans acteur peut être orientée à la main.")
    # Locked as the matcher locks them: two proposals never take the same last place.
    actors = {a.id: a for a in await uow.actors.of_departement(demande.departement, lock=True)}
    actor = actors.get(actor_id) or await uow.actors.get(actor_id)
    if actor is None:
        raise DomainValidationError([FieldError("actor_id", "Acteur inconnu du catalogue.")])
    states = await uow.actors.states([actor.id], demande.requester_code)
    state = states.get(actor.id, ActorState())
    refused = hand_routing.refusal(actor, state, demande.departement)
    if refused is not None:
        raise DomainValidationError([FieldError("actor_id", refused)])
    needs = demande.uncovered or demande.needs
    history = await uow.assignments.of_request(request_id)
    round_ = max((a.round for a in history), default=0) + 1
    continued = demande.requester_code in state.collectivites
    assignment = Assignment(
        id=uuid.uuid4(),
        request_id=request_id,
        departement=demande.departement,
        actor_id=actor.id,
        requester_code=demande.requester_code,
        needs=needs,
        lead=True,
        round=round_,
        status=AssignmentStatus.PROPOSED,
        criteria=hand_routing.criteria(actor, state, needs, continued),
        reasons=hand_routing.reasons(principal.subject, reason),
        proposed_at=now,
        respond_by=policy.deadline(now),
    )
    await uow.assignments.add(assignment)
    await uow.demandes.save(
        replace(demande, status="open", uncovered=(), unmatched_reason=None, updated_at=now)
    )
    await uow.outbox.add(
        AssignmentProposed(
            assignment_id=assignment.id,
            request_id=request_id,
            departement=demande.departement,
            actor_id=actor.id,
            actor_name=actor.name,
            actor_kind=actor.kind.value,
            requester_code=demande.requester_code,
            needs=need_refs(needs),
            lead=True,
            round=round_,
            criteria=criteria_ref(assignment.criteria),
            reasons=assignment.reasons,
            respond_by=assignment.respond_by,
            proposed_at=now,
            routed_by=principal.subject,
        ),
        departement=demande.departement,
        correlation_id=demande.correlation_id,
    )
    await uow.commit()
    return assignment
