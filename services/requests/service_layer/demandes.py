"""Use cases of the demande aggregate: submit, withdraw, read, list, follow matching."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from services.requests.domain.model import (
    ContactPerson,
    Demande,
    DemandeFilter,
    InvalidTransition,
    RequestStatus,
)
from services.requests.domain.progress import AssignmentView, mark_unmatched, progress
from services.requests.domain.project import Project
from services.requests.domain.validation import check_draft, resolve_requester
from services.requests.service_layer import phases
from services.requests.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.requests import (
    ContactRecorded,
    RequestDraft,
    Requester,
    RequestSubmittedV2,
    RequestWithdrawn,
)
from shared.contracts.vocabulary import Theme
from shared.errors import Conflict, DomainValidationError, FieldError, Forbidden, NotFound
from shared.french import PARIS
from shared.messaging.envelope import Envelope
from shared.observability.metrics import DEMANDES
from shared.refdata import Territories


@dataclass(frozen=True, slots=True)
class Submission:
    draft: RequestDraft
    request_id: UUID
    departement: str
    channel: str
    submitted_by: str
    caused_by: Envelope | None = None
    correlation_id: str | None = None


def submission_departement(
    principal: Principal, requester_code: str, territories: Territories
) -> str:
    """The département a demande submitted by ``principal`` for ``requester_code`` belongs to."""
    if principal.role is Role.ACTOR:
        raise Forbidden("Un acteur ne dépose pas de demande.")
    if principal.role is Role.COLLECTIVITE and principal.scope != requester_code:
        raise Forbidden("Vous ne pouvez déposer une demande qu'au nom de votre collectivité.")
    if principal.departement is not None:
        return principal.departement
    home = territories.home_departement(requester_code)
    if home is None:
        raise DomainValidationError(
            [FieldError("requester_code", "Collectivité inconnue du référentiel officiel.")]
        )
    return home


def _new_demande(
    submission: Submission, territories: Territories, now: datetime, project_id: UUID
) -> Demande:
    draft = submission.draft
    # "Today" for the person who asks is the day in Paris.
    errors = check_draft(draft, now.astimezone(PARIS).date())
    requester, requester_errors = resolve_requester(
        draft.requester_code, submission.departement, territories
    )
    errors += requester_errors
    if errors or requester is None:
        raise DomainValidationError(errors)
    return Demande(
        id=submission.request_id,
        departement=submission.departement,
        requester_kind=requester.kind,
        requester_code=requester.code,
        requester_name=requester.name,
        requester_population=requester.population,
        contact=ContactPerson(
            name=draft.contact.name,
            email=str(draft.contact.email),
            phone=draft.contact.phone,
            role=draft.contact.role,
        ),
        title=draft.title.strip(),
        description=draft.description.strip(),
        themes=list(draft.themes),
        phase=draft.phase,
        estimated_budget=draft.estimated_budget,
        wished_start=draft.wished_start,
        wished_end=draft.wished_end,
        channel=submission.channel,
        submitted_by=submission.submitted_by,
        submitted_at=now,
        project_id=project_id,
        status=RequestStatus.SUBMITTED,
        status_changed_at=now,
    )


def contact_event(demande: Demande) -> ContactRecorded:
    """The demande's contact, for the restricted topic only (ADR 0020)."""
    return ContactRecorded(
        contact_id=demande.contact_id,
        departement=demande.departement,
        request_id=demande.id,
        name=demande.contact.name,
        email=demande.contact.email,
        phone=demande.contact.phone,
        role=demande.contact.role,
        recorded_at=demande.submitted_at,
    )


def submitted_event(demande: Demande) -> RequestSubmittedV2:
    """What every subscriber hears of a new demande: its contact by id only."""
    return RequestSubmittedV2(
        request_id=demande.id,
        departement=demande.departement,
        requester=Requester(
            kind=demande.requester_kind,
            code=demande.requester_code,
            name=demande.requester_name,
            population=demande.requester_population,
        ),
        contact_id=demande.contact_id,
        title=demande.title,
        description=demande.description,
        themes=demande.themes,
        phase=demande.phase,
        estimated_budget=demande.estimated_budget,
        wished_start=demande.wished_start,
        wished_end=demande.wished_end,
        channel="event" if demande.channel == "event" else "api",
        submitted_at=demande.submitted_at,
    )


async def submit_request(
    uow: UnitOfWork, submission: Submission, territories: Territories, now: datetime
) -> tuple[Demande, bool]:
    """Store the demande, the project it opens and their events; the same id twice gives
    one demande.

    Returns the demande and whether this call created it.
    """
    project = Project(
        id=uuid4(),
        departement=submission.departement,
        requester_code=submission.draft.requester_code,
        title=submission.draft.title.strip(),
        created_at=now,
    )
    demande = _new_demande(submission, territories, now, project.id)
    existing = await uow.demandes.get(submission.request_id)
    if existing is not None:
        return _same_or_conflict(existing, demande), False
    await uow.projects.add(project)
    if not await store_phase(
        uow,
        demande,
        project,
        caused_by=submission.caused_by,
        correlation_id=submission.correlation_id,
    ):
        # Another instance stored the same id between our read and our insert.
        await uow.rollback()
        existing = await uow.demandes.get(submission.request_id)
        if existing is None:
            raise Conflict("Cet identifiant de demande est en cours d'enregistrement.")
        return _same_or_conflict(existing, demande), False
    await uow.commit()
    DEMANDES.labels(demande.departement, demande.status.value).inc()
    return demande, True


async def store_phase(
    uow: UnitOfWork,
    demande: Demande,
    project: Project,
    *,
    caused_by: Envelope | None = None,
    correlation_id: str | None = None,
) -> bool:
    """Write a new demande, its contact (restricted topic) then its ``submitted`` event
    (matching routes it) and its project's ``phase_opened``; a project's first demande is
    also checked for duplicates. False, nothing to commit, when the demande's id is taken."""
    # The contact first, in the same transaction: whoever reads both usually has the
    # contact before the demande that names it (ADR 0020 says what happens otherwise).
    recorded = await uow.outbox.add(
        contact_event(demande),
        departement=demande.departement,
        caused_by=caused_by,
        correlation_id=correlation_id,
        key=str(demande.contact_id),
    )
    envelope = await uow.outbox.add(
        submitted_event(demande),
        departement=demande.departement,
        caused_by=caused_by,
        correlation_id=recorded.correlation_id,
    )
    # Later events of this demande continue the flow that its submission started.
    demande.correlation_id = envelope.correlation_id
    if demande.previous_demande_id is None:
        await phases.flag_duplicates(uow, demande, envelope)
    if not await uow.demandes.add(demande):
        return False
    await phases.phase_opened(uow, project, demande, envelope)
    return True


def _same_or_conflict(existing: Demande, candidate: Demande) -> Demande:
    if (existing.requester_code, existing.title, existing.departement) != (
        candidate.requester_code,
        candidate.title,
        candidate.departement,
    ):
        raise Conflict("Cet identifiant de demande est déjà utilisé pour une autre demande.")
    return existing


def ensure_can_read(principal: Principal, demande: Demande) -> None:
    if principal.role is Role.ADMIN:
        return
    if principal.departement != demande.departement:
        raise Forbidden("Cette demande relève d'un autre département.")
    if principal.role is Role.COLLECTIVITE and principal.scope != demande.requester_code:
        raise Forbidden("Cette demande a été déposée par une autre collectivité.")
    if principal.role is Role.ACTOR:
        raise Forbidden("Les acteurs consultent les demandes via leurs mises en relation.")


async def get_request(uow: UnitOfWork, principal: Principal, demande_id: UUID) -> Demande:
    demande = await uow.demandes.get(demande_id)
    if demande is None:
        raise NotFound("Demande introuvable.")
    ensure_can_read(principal, demande)
    return demande


async def read_request(
    uow: UnitOfWork, principal: Principal, demande_id: UUID
) -> tuple[Demande, list[AssignmentView]]:
    """The demande and the actors proposed for it or working on it."""
    demande = await get_request(uow, principal, demande_id)
    return demande, await uow.demandes.assignments(demande.id)


async def list_requests(
    uow: UnitOfWork,
    principal: Principal,
    *,
    status: RequestStatus | None,
    theme: Theme | None,
    commune: str | None,
    departement: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Demande], int]:
    if principal.role is Role.ACTOR:
        raise Forbidden("Les acteurs consultent les demandes via leurs mises en relation.")
    if principal.role is Role.ADMIN:
        scope_departement = departement
    else:
        if departement is not None and departement != principal.departement:
            raise Forbidden("Vous ne pouvez consulter que les demandes de votre département.")
        scope_departement = principal.departement
    requester = commune
    if principal.role is Role.COLLECTIVITE:
        if commune is not None and commune != principal.scope:
            raise Forbidden("Vous ne pouvez consulter que les demandes de votre collectivité.")
        requester = principal.scope
    criteria = DemandeFilter(
        departement=scope_departement, requester_code=requester, status=status, theme=theme
    )
    return await uow.demandes.search(criteria, limit=limit, offset=offset)


async def withdraw_request(
    uow: UnitOfWork,
    principal: Principal,
    demande_id: UUID,
    reason: str | None,
    now: datetime,
) -> Demande:
    demande = await uow.demandes.get(demande_id, for_update=True)
    if demande is None:
        raise NotFound("Demande introuvable.")
    ensure_can_read(principal, demande)
    if demande.status is RequestStatus.WITHDRAWN:
        return demande
    try:
        demande.withdraw(reason, now)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from exc
    await uow.demandes.save_status(demande)
    await phases.phase_closed_if_over(uow, demande, now)
    await uow.outbox.add(
        RequestWithdrawn(
            request_id=demande.id,
            departement=demande.departement,
            requester_code=demande.requester_code,
            reason=reason,
            withdrawn_at=now,
        ),
        departement=demande.departement,
        correlation_id=demande.correlation_id,
    )
    await uow.commit()
    DEMANDES.labels(demande.departement, demande.status.value).inc()
    return demande


async def follow_assignment(
    uow: UnitOfWork,
    request_id: UUID,
    view: AssignmentView | None,
    now: datetime,
    unmatched_summary: str | None = None,
) -> Demande | None:
    """Bring a demande up to date with an event of the matching service."""
    demande = await uow.demandes.get(request_id, for_update=True)
    if demande is None:
        # Matching only routes demandes that we published; this one is not ours to follow.
        return None
    before = demande.status
    if view is not None:
        await uow.demandes.save_assignment(request_id, view)
    if unmatched_summary is not None:
        changed = mark_unmatched(demande, unmatched_summary, now)
    else:
        changed = progress(demande, await uow.demandes.assignments(request_id), now)
    if changed:
        await uow.demandes.save_status(demande)
        if demande.status is not before:
            await phases.phase_closed_if_over(uow, demande, now)
            DEMANDES.labels(demande.departement, demande.status.value).inc()
    return demande
