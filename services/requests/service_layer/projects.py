"""Use cases of the project aggregate: open the next phase of a closed one, read the
project's timeline across its phases."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from services.requests.domain.model import Demande, RequestStatus
from services.requests.domain.project import NoNextPhase, PhaseEntry, Project, next_phase
from services.requests.service_layer.demandes import ensure_can_read, store_phase
from services.requests.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import Phase, Theme
from shared.errors import Conflict, DomainValidationError, FieldError, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.observability.metrics import DEMANDES


@dataclass(frozen=True, slots=True)
class NextPhase:
    """What the next phase asks for; what is left out is taken from the closed phase."""

    new_demande_id: UUID
    phase: Phase | None = None
    title: str | None = None
    description: str | None = None
    themes: list[Theme] | None = None
    deliverables: list[str] = field(default_factory=list)
    # "event" when a département system sent it as a command.
    channel: str = "api"


@dataclass(frozen=True, slots=True)
class Timeline:
    project: Project
    phases: list[PhaseEntry]


async def _ensure_can_open(uow: UnitOfWork, principal: Principal, closed: Demande) -> None:
    """The département's team, or an actor that led the closed phase."""
    if principal.role is Role.ADMIN:
        return
    if principal.departement != closed.departement:
        raise Forbidden("Cette demande relève d'un autre département.")
    if principal.role is Role.DEPARTEMENT:
        return
    if principal.role is Role.ACTOR:
        leads = {a.actor_id for a in await uow.demandes.assignments(closed.id) if a.lead}
        if principal.scope in leads:
            return
        raise Forbidden("Seul l'acteur pilote de la phase close peut ouvrir la suivante.")
    raise Forbidden("La phase suivante est ouverte par l'acteur pilote ou le département.")


async def open_next_phase(
    uow: UnitOfWork,
    principal: Principal,
    demande_id: UUID,
    wanted: NextPhase,
    now: datetime,
    *,
    caused_by: Envelope | None = None,
) -> tuple[Demande, bool]:
    """Open the project's next phase as a new demande, routed again like any other.

    Returns the new demande and whether this call created it: the next phase of one
    demande is opened once, whoever asks again.
    """
    closed = await uow.demandes.get(demande_id, for_update=True)
    if closed is None:
        raise NotFound("Demande introuvable.")
    await _ensure_can_open(uow, principal, closed)
    already = await uow.demandes.next_of(closed.id)
    if already is not None:
        if wanted.phase is not None and wanted.phase is not already.phase:
            raise Conflict("La phase suivante de cette demande est déjà ouverte.")
        return already, False
    if closed.status is not RequestStatus.COMPLETED:
        raise Conflict("La phase suivante s'ouvre quand la mission de cette phase est terminée.")
    try:
        phase = next_phase(closed.phase, wanted.phase)
    except NoNextPhase as exc:
        raise DomainValidationError([FieldError("phase", str(exc))]) from exc
    project = await uow.projects.get(closed.project_id, for_update=True)
    if project is None:
        raise NotFound("Projet introuvable.")
    demande = replace(
        closed,
        id=wanted.new_demande_id,
        title=(wanted.title or closed.title).strip(),
        description=(wanted.description or closed.description).strip(),
        themes=list(wanted.themes or closed.themes),
        phase=phase,
        estimated_budget=None,
        wished_start=None,
        wished_end=None,
        channel=wanted.channel,
        submitted_by=f"{principal.role.value}:{principal.subject}",
        submitted_at=now,
        phase_number=closed.phase_number + 1,
        previous_demande_id=closed.id,
        carried_deliverables=list(
            dict.fromkeys(
                [*closed.carried_deliverables, *closed.deliverables, *wanted.deliverables]
            )
        ),
        deliverables=[],
        suspected_duplicate_of=[],
        status=RequestStatus.SUBMITTED,
        status_changed_at=now,
        status_detail=None,
        withdrawn_reason=None,
        correlation_id=None,
    )
    if not await store_phase(uow, demande, project, caused_by=caused_by):
        raise Conflict("Cet identifiant de demande est déjà utilisé.")
    await uow.commit()
    DEMANDES.labels(demande.departement, demande.status.value).inc()
    return demande, True


async def follow_deliverable(uow: UnitOfWork, demande_id: UUID, reference: str) -> bool:
    """Keep the reference of a deliverable that matching announced for the demande's
    mission, for the next phase to carry; the caller commits."""
    return await uow.demandes.add_deliverable(demande_id, reference)


async def read_project(uow: UnitOfWork, principal: Principal, project_id: UUID) -> Timeline:
    project = await uow.projects.get(project_id)
    demandes = await uow.demandes.of_project(project_id)
    if project is None or not demandes:
        raise NotFound("Projet introuvable.")
    ensure_can_read(principal, demandes[0])
    phases = []
    for demande in demandes:
        leads = [
            a.actor_name
            for a in await uow.demandes.assignments(demande.id)
            if a.lead and a.status in ("accepted", "completed")
        ]
        phases.append(PhaseEntry(demande, demande.phase_number, leads))
    return Timeline(project, phases)
