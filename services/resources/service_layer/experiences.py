"""Use cases of the retours d'expérience: drafted when a mission closes (matching's
``assignment.completed``), written by the actor, published once the collectivité consents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from services.resources.domain.experiences import Experience, ExperienceStatus
from services.resources.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentCompleted
from shared.contracts.resources import ExperienceDrafted, ExperiencePublished
from shared.errors import Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.refdata import Territories


@dataclass(frozen=True, slots=True)
class ExperienceText:
    title: str
    context: str
    what_was_done: str
    lessons: str
    contacts: str
    cost: Decimal | None
    duration_days: Decimal | None


async def draft_from_mission(
    uow: UnitOfWork,
    completed: AssignmentCompleted,
    territories: Territories,
    now: datetime,
    caused_by: Envelope | None = None,
) -> Experience | None:
    """A draft for the actor of a closed mission; None when the mission has one already."""
    territory = territories.requester(completed.requester_code)
    experience = Experience(
        id=uuid4(),
        assignment_id=completed.assignment_id,
        request_id=completed.request_id,
        departement=completed.departement,
        actor_id=completed.actor_id,
        requester_code=completed.requester_code,
        commune_population=territory.population if territory is not None else 0,
        themes=list(dict.fromkeys(n.theme for n in completed.needs)),
        phases=list(dict.fromkeys(n.phase for n in completed.needs)),
        status=ExperienceStatus.DRAFT,
        drafted_at=now,
        duration_days=completed.days_spent,
    )
    if not await uow.experiences.add(experience):
        return None
    await uow.outbox.add(
        ExperienceDrafted(
            experience_id=experience.id,
            assignment_id=experience.assignment_id,
            request_id=experience.request_id,
            departement=experience.departement,
            actor_id=experience.actor_id,
            requester_code=experience.requester_code,
            themes=experience.themes,
            drafted_at=now,
        ),
        departement=experience.departement,
        caused_by=caused_by,
    )
    await uow.commit()
    return experience


async def _get(uow: UnitOfWork, experience_id: UUID, *, for_update: bool) -> Experience:
    experience = await uow.experiences.get(experience_id, for_update=for_update)
    if experience is None:
        raise NotFound("Retour d'expérience introuvable.")
    return experience


async def write(
    uow: UnitOfWork, principal: Principal, experience_id: UUID, text: ExperienceText
) -> Experience:
    experience = await _get(uow, experience_id, for_update=True)
    if principal.role is not Role.ACTOR or principal.scope != experience.actor_id:
        raise Forbidden("Seul l'acteur de la mission rédige son retour d'expérience.")
    experience.write(
        title=text.title,
        context=text.context,
        what_was_done=text.what_was_done,
        lessons=text.lessons,
        contacts=text.contacts,
        cost=text.cost,
        duration_days=text.duration_days,
    )
    await uow.experiences.save(experience)
    await uow.commit()
    return experience


async def consent(
    uow: UnitOfWork, principal: Principal, experience_id: UUID, given: bool, now: datetime
) -> Experience:
    experience = await _get(uow, experience_id, for_update=True)
    if principal.role is not Role.COLLECTIVITE or principal.scope != experience.requester_code:
        raise Forbidden("Seule la collectivité accompagnée consent à la publication.")
    if experience.consent(given, now):
        await uow.outbox.add(
            ExperiencePublished(
                experience_id=experience.id,
                assignment_id=experience.assignment_id,
                request_id=experience.request_id,
                departement=experience.departement,
                actor_id=experience.actor_id,
                requester_code=experience.requester_code,
                themes=experience.themes,
                title=experience.title,
                commune_population=experience.commune_population,
                published_at=now,
            ),
            departement=experience.departement,
        )
    await uow.experiences.save(experience)
    await uow.commit()
    return experience


async def read(uow: UnitOfWork, principal: Principal, experience_id: UUID) -> Experience:
    """Published: every reader of its département; before: its actor, its collectivité and
    the département's team."""
    experience = await _get(uow, experience_id, for_update=False)
    if principal.role is Role.ADMIN:
        return experience
    if principal.departement != experience.departement:
        raise NotFound("Retour d'expérience introuvable.")
    if experience.status is ExperienceStatus.PUBLISHED or principal.role is Role.DEPARTEMENT:
        return experience
    if principal.role is Role.ACTOR and principal.scope == experience.actor_id:
        return experience
    if principal.role is Role.COLLECTIVITE and principal.scope == experience.requester_code:
        return experience
    raise NotFound("Retour d'expérience introuvable.")
