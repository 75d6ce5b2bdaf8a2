"""Use cases of a mission's course: its plan of milestones (set at acceptance, adapted
by the actor or the département), milestones marked done with their deliverables, the
deliverables' bytes, and the timeline the collectivité and the département read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid4

from services.matching.domain.deliverables import (
    Deliverable,
    DeliverableTooLarge,
    UnsupportedDeliverable,
    checked,
)
from services.matching.domain.lifecycle import Assignment, AssignmentStatus
from services.matching.domain.missions import (
    Handover,
    Milestone,
    MilestoneStatus,
    MissionRefused,
    added_milestone,
    default_plan,
    ensure_running,
)
from services.matching.service_layer.assignment_events import actor_name
from services.matching.service_layer.ports import ContentStore, UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.missions import DeliverableAdded, DeliverableRef, MilestoneDone
from shared.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType

# Gives an upload's bytes; raises DeliverableTooLarge as soon as they pass the cap.
Reader = Callable[[], Awaitable[bytes]]

MISSION_NOT_FOUND = "Mission introuvable."
# An assignment is a mission once accepted (a cancelled proposal shows an empty course).
MISSION_STATUSES = frozenset(
    {AssignmentStatus.ACCEPTED, AssignmentStatus.COMPLETED, AssignmentStatus.CANCELLED}
)


@dataclass(frozen=True, slots=True)
class Timeline:
    """A mission as the collectivité and the département follow it."""

    mission: Assignment
    milestones: list[Milestone]
    deliverables: list[Deliverable]
    handovers: list[Handover]


async def start_plan(uow: UnitOfWork, assignment: Assignment, accepted_at: datetime) -> None:
    """The default milestones of a mission just accepted (in the acceptance's transaction)."""
    for milestone in default_plan(assignment, accepted_at):
        await uow.milestones.add(milestone)


def ensure_may_steer(principal: Principal, mission: Assignment) -> None:
    """The mission's actor and its département's team change its course."""
    if principal.role is Role.ADMIN:
        return
    if principal.departement != mission.departement:
        raise Forbidden("Cette mission relève d'un autre département.")
    if principal.role is Role.ACTOR and principal.scope != mission.actor_id:
        raise Forbidden("Cette mission est confiée à un autre acteur.")
    if principal.role not in (Role.ACTOR, Role.DEPARTEMENT):
        raise Forbidden("Seul l'acteur de la mission ou l'équipe du département peut la modifier.")


def ensure_may_read(principal: Principal, mission: Assignment) -> None:
    """... and the collectivité it serves reads it too."""
    if principal.role is Role.COLLECTIVITE:
        if principal.departement != mission.departement or principal.scope != (
            mission.requester_code
        ):
            raise Forbidden("Cette mission concerne une autre collectivité.")
        return
    ensure_may_steer(principal, mission)


async def _mission(uow: UnitOfWork, assignment_id: UUID, *, lock: bool = False) -> Assignment:
    found = await uow.assignments.get(assignment_id, lock=lock)
    if found is None or found.status not in MISSION_STATUSES:
        raise NotFound(MISSION_NOT_FOUND)
    return found


async def _milestone(
    uow: UnitOfWork, mission: Assignment, milestone_id: UUID, *, lock: bool = False
) -> Milestone:
    found = await uow.milestones.get(milestone_id, lock=lock)
    if found is None or found.assignment_id != mission.id:
        raise NotFound("Jalon introuvable.")
    return found


async def _steered_milestone(
    uow: UnitOfWork, principal: Principal, assignment_id: UUID, milestone_id: UUID
) -> tuple[Assignment, Milestone]:
    """A milestone of a mission under way that ``principal`` may change, locked."""
    mission = await _mission(uow, assignment_id)
    ensure_may_steer(principal, mission)
    try:
        ensure_running(mission)
    except MissionRefused as exc:
        raise Conflict(str(exc)) from exc
    return mission, await _milestone(uow, mission, milestone_id, lock=True)


async def add_milestone(
    uow: UnitOfWork, principal: Principal, assignment_id: UUID, title: str, due_on: date
) -> Milestone:
    mission = await _mission(uow, assignment_id, lock=True)
    ensure_may_steer(principal, mission)
    existing = await uow.milestones.of_mission(mission.id)
    try:
        milestone = added_milestone(mission, existing, uuid4(), title, due_on)
    except MissionRefused as exc:
        raise Conflict(str(exc)) from exc
    await uow.milestones.add(milestone)
    await uow.commit()
    return milestone


async def edit_milestone(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: UUID,
    milestone_id: UUID,
    *,
    title: str | None,
    due_on: date | None,
) -> Milestone:
    _, milestone = await _steered_milestone(uow, principal, assignment_id, milestone_id)
    try:
        milestone.edit(title, due_on)
    except MissionRefused as exc:
        raise Conflict(str(exc)) from exc
    await uow.milestones.save(milestone)
    await uow.commit()
    return milestone


def deliverable_ref(d: Deliverable, public_url: str) -> DeliverableRef:
    return DeliverableRef(
        deliverable_id=d.id,
        name=d.name,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        download_url=f"{public_url.rstrip('/')}/v1/missions/{d.assignment_id}/deliverables/{d.id}",
    )


async def mission_fields(uow: UnitOfWork, mission: Assignment) -> dict[str, object]:
    name, _ = await actor_name(uow, mission.actor_id)
    return {
        "assignment_id": mission.id,
        "request_id": mission.request_id,
        "departement": mission.departement,
        "actor_id": mission.actor_id,
        "actor_name": name,
        "requester_code": mission.requester_code,
    }


async def mission_correlation(uow: UnitOfWork, mission: Assignment) -> str | None:
    demande = await uow.demandes.get(mission.request_id)
    return demande.correlation_id if demande else None


async def add_deliverable(
    uow: UnitOfWork,
    store: ContentStore,
    principal: Principal,
    assignment_id: UUID,
    milestone_id: UUID,
    name: str,
    read: Reader,
    public_url: str,
    now: datetime,
) -> Deliverable:
    """Attach a file to an open milestone. ``read`` gives the upload's bytes and raises
    :class:`DeliverableTooLarge` as soon as they pass the cap: it is called only once
    the caller may write here, and nothing is written unless the file is accepted."""
    mission, milestone = await _steered_milestone(uow, principal, assignment_id, milestone_id)
    if milestone.status is MilestoneStatus.DONE:
        raise Conflict("Ce jalon est déjà remis : ajoutez le livrable à un jalon à venir.")
    try:
        data = await read()
        content_type, sha256 = checked(data)
    except DeliverableTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except UnsupportedDeliverable as exc:
        raise UnsupportedMediaType(str(exc)) from exc
    deliverable = Deliverable(
        id=uuid4(),
        assignment_id=mission.id,
        milestone_id=milestone.id,
        departement=mission.departement,
        name=name,
        content_type=content_type,
        size=len(data),
        sha256=sha256,
        added_at=now,
        added_by=principal.subject,
    )
    await store.put(deliverable.storage_key, data, content_type)
    await uow.deliverables.add(deliverable)
    await uow.outbox.add(
        DeliverableAdded.model_validate(
            await mission_fields(uow, mission)
            | {
                "milestone_id": milestone.id,
                "milestone_title": milestone.title,
                "deliverable": deliverable_ref(deliverable, public_url),
                "added_at": now,
            }
        ),
        departement=mission.departement,
        correlation_id=await mission_correlation(uow, mission),
    )
    await uow.commit()
    return deliverable


async def mark_done(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: UUID,
    milestone_id: UUID,
    note: str | None,
    public_url: str,
    now: datetime,
) -> Milestone:
    mission, milestone = await _steered_milestone(uow, principal, assignment_id, milestone_id)
    try:
        milestone.mark_done(principal.subject, note, now)
    except MissionRefused as exc:
        raise Conflict(str(exc)) from exc
    await uow.milestones.save(milestone)
    attached = [
        deliverable_ref(d, public_url)
        for d in await uow.deliverables.of_mission(mission.id)
        if d.milestone_id == milestone.id
    ]
    left = sum(
        m.status is MilestoneStatus.OPEN and m.id != milestone.id
        for m in await uow.milestones.of_mission(mission.id)
    )
    await uow.outbox.add(
        MilestoneDone.model_validate(
            await mission_fields(uow, mission)
            | {
                "milestone_id": milestone.id,
                "title": milestone.title,
                "position": milestone.position,
                "due_on": milestone.due_on,
                "done_at": now,
                "late": milestone.late(),
                "note": note,
                "deliverables": attached,
                "milestones_left": left,
            }
        ),
        departement=mission.departement,
        correlation_id=await mission_correlation(uow, mission),
    )
    await uow.commit()
    return milestone


async def timeline(uow: UnitOfWork, principal: Principal, assignment_id: UUID) -> Timeline:
    mission = await _mission(uow, assignment_id)
    ensure_may_read(principal, mission)
    return Timeline(
        mission=mission,
        milestones=await uow.milestones.of_mission(mission.id),
        deliverables=await uow.deliverables.of_mission(mission.id),
        handovers=await uow.handovers.of_mission(mission.id),
    )


async def timelines_of_request(
    uow: UnitOfWork, principal: Principal, request_id: UUID
) -> list[Timeline]:
    """The missions of one demande that ``principal`` may read (a project's whole course
    for its collectivité and the team; an actor sees its own)."""
    found: list[Timeline] = []
    for assignment in await uow.assignments.of_request(request_id):
        if assignment.status not in MISSION_STATUSES:
            continue
        try:
            ensure_may_read(principal, assignment)
        except Forbidden:
            continue
        found.append(await timeline(uow, principal, assignment.id))
    return found


async def deliverable_content(
    uow: UnitOfWork,
    store: ContentStore,
    principal: Principal,
    assignment_id: UUID,
    deliverable_id: UUID,
) -> tuple[Deliverable, bytes]:
    mission = await _mission(uow, assignment_id)
    ensure_may_read(principal, mission)
    found = await uow.deliverables.get(deliverable_id)
    if found is None or found.assignment_id != mission.id:
        raise NotFound("Livrable introuvable.")
    data = await store.get(found.storage_key)
    if data is None:
        raise NotFound("Le contenu de ce livrable est introuvable.")
    return found, data
