"""Hand-overs: when an agent of an actor leaves, the département gives that agent's
missions under way to a colleague in one operation; each mission keeps the history and
tells everyone concerned (``matching.mission.reassigned.v1``)."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from services.matching.domain.lifecycle import Assignment
from services.matching.domain.missions import Handover
from services.matching.service_layer.missions import mission_correlation, mission_fields
from services.matching.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.missions import MissionReassigned
from shared.errors import DomainValidationError, FieldError, Forbidden, NotFound


async def hand_over(
    uow: UnitOfWork,
    principal: Principal,
    actor_id: str,
    from_agent: str,
    to_agent: str,
    reason: str | None,
    now: datetime,
) -> list[Assignment]:
    """Every mission under way of ``from_agent`` (of ``actor_id``) goes to ``to_agent``."""
    if principal.role not in (Role.DEPARTEMENT, Role.ADMIN):
        raise Forbidden("Seule l'équipe du département réaffecte les missions d'un acteur.")
    actor = await uow.actors.get(actor_id)
    if actor is None or not principal.can_act_for(actor.departement):
        raise NotFound("Acteur introuvable.")
    if from_agent.strip() == to_agent.strip():
        raise DomainValidationError(
            [FieldError("to_agent", "Choisissez un autre agent que celui qui part.")]
        )
    missions = await uow.assignments.in_charge_of(actor_id, from_agent)
    for mission in missions:
        mission.agent = to_agent
        await uow.assignments.save(mission)
        await uow.handovers.add(
            Handover(
                id=uuid4(),
                assignment_id=mission.id,
                departement=mission.departement,
                from_agent=from_agent,
                to_agent=to_agent,
                reason=reason,
                by=principal.subject,
                at=now,
            )
        )
        await uow.outbox.add(
            MissionReassigned.model_validate(
                await mission_fields(uow, mission)
                | {
                    "from_agent": from_agent,
                    "to_agent": to_agent,
                    "reason": reason,
                    "reassigned_by": principal.subject,
                    "reassigned_at": now,
                }
            ),
            departement=mission.departement,
            correlation_id=await mission_correlation(uow, mission),
        )
    await uow.commit()
    return missions
