"""The project events that a demande's own life causes: its phase opened (a new project
or the next phase), closed (completed, withdrawn, unmatched), or suspected of
duplicating an open demande. Called by the demande's use cases, in their transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.requests.domain.duplicates import suspected_duplicates
from services.requests.domain.model import Demande
from services.requests.domain.project import (
    CLOSING_OUTCOMES,
    LES_COMMUNS_PHASE,
    LES_COMMUNS_STATUS,
    Project,
)
from services.requests.service_layer.ports import UnitOfWork
from shared.contracts.projects import (
    DuplicateCandidate,
    ProjectDuplicateSuspected,
    ProjectPhaseClosed,
    ProjectPhaseOpened,
)
from shared.messaging.envelope import Envelope


def _fields(project: Project, demande: Demande) -> dict[str, Any]:
    return {
        "project_id": project.id,
        "demande_id": demande.id,
        "departement": demande.departement,
        "project_revision": project.next_revision(),
        "phase_number": demande.phase_number,
        "phase": demande.phase,
        "les_communs_phase": LES_COMMUNS_PHASE[demande.phase],
        "les_communs_status": LES_COMMUNS_STATUS[demande.status],
        "requester_kind": demande.requester_kind,
        "requester_code": demande.requester_code,
        "title": project.title,
        "description": demande.description,
        "themes": demande.themes,
    }


async def phase_opened(
    uow: UnitOfWork, project: Project, demande: Demande, envelope: Envelope
) -> None:
    """``envelope``: the demande's ``submitted`` event, which this one follows."""
    await uow.outbox.add(
        ProjectPhaseOpened(
            **_fields(project, demande),
            previous_demande_id=demande.previous_demande_id,
            opened_by=demande.submitted_by,
            opened_at=demande.submitted_at,
            carried_deliverables=demande.carried_deliverables,
        ),
        departement=demande.departement,
        caused_by=envelope,
    )
    await uow.projects.save_revision(project)


async def phase_closed_if_over(uow: UnitOfWork, demande: Demande, now: datetime) -> bool:
    """Publish ``phase_closed`` when the demande's status ends its phase."""
    outcome = CLOSING_OUTCOMES.get(demande.status)
    if outcome is None:
        return False
    project = await uow.projects.get(demande.project_id, for_update=True)
    if project is None:
        return False
    await uow.outbox.add(
        ProjectPhaseClosed(**_fields(project, demande), outcome=outcome, closed_at=now),
        departement=demande.departement,
        correlation_id=demande.correlation_id,
    )
    await uow.projects.save_revision(project)
    return True


async def flag_duplicates(uow: UnitOfWork, demande: Demande, envelope: Envelope) -> bool:
    """Flag the new demande when it looks like an open one of the same collectivité.

    The demande is stored all the same: the département's team decides.
    """
    others = await uow.demandes.open_of(demande.requester_code, demande.departement)
    candidates = suspected_duplicates(demande, others)
    if not candidates:
        return False
    demande.suspected_duplicate_of = [c.demande.id for c in candidates]
    await uow.outbox.add(
        ProjectDuplicateSuspected(
            demande_id=demande.id,
            project_id=demande.project_id,
            departement=demande.departement,
            requester_code=demande.requester_code,
            requester_name=demande.requester_name,
            title=demande.title,
            themes=demande.themes,
            phase=demande.phase,
            candidates=[
                DuplicateCandidate(
                    demande_id=c.demande.id,
                    project_id=c.demande.project_id,
                    title=c.demande.title,
                    submitted_at=c.demande.submitted_at,
                    similarity=c.similarity,
                )
                for c in candidates
            ],
            detected_at=demande.submitted_at,
        ),
        departement=demande.departement,
        caused_by=envelope,
    )
    return True
