"""How a demande's status follows the matching service's events.

Pure: given the demande, what is known of its assignments and one event, the new
state. The requests service never reads matching's database; these events are all
it knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.requests.domain.model import FINAL_STATUSES, Demande, RequestStatus


@dataclass(slots=True)
class AssignmentView:
    assignment_id: UUID
    actor_id: str
    actor_name: str
    lead: bool
    needs: list[str]
    status: str  # proposed, accepted, declined, expired, completed, cancelled
    updated_at: datetime


def describe(assignments: list[AssignmentView]) -> str:
    open_ = [a for a in assignments if a.status in ("proposed", "accepted", "completed")]
    if not open_:
        return "Recherche d'un acteur en cours."
    parts = []
    for a in sorted(open_, key=lambda a: (not a.lead, a.actor_name)):
        role = " (pilote)" if a.lead else ""
        parts.append(f"{a.actor_name}{role} : {_LABELS[a.status]}")
    return " ; ".join(parts)


_LABELS = {
    "proposed": "proposition en attente de réponse",
    "accepted": "mission en cours",
    "completed": "mission terminée",
}


def progress(demande: Demande, assignments: list[AssignmentView], now: datetime) -> bool:
    """Recompute the status from the assignments; returns whether it changed. An unmatched
    demande stays so until an actor is proposed again (the département routed it by hand)."""
    if demande.status in FINAL_STATUSES:
        return False
    statuses = {a.status for a in assignments}
    if demande.status is RequestStatus.UNMATCHED and not statuses & {"proposed", "accepted"}:
        return False
    if statuses & {"accepted"}:
        new = RequestStatus.IN_PROGRESS
    elif "completed" in statuses and not statuses & {"proposed", "accepted"}:
        new = RequestStatus.COMPLETED
    elif statuses:
        new = RequestStatus.PROPOSED
    else:
        new = demande.status
    detail = describe(assignments)
    changed = new is not demande.status or detail != demande.status_detail
    if changed:
        if new is not demande.status:
            demande.status_changed_at = now
        demande.status = new
        demande.status_detail = detail
    return changed


def mark_unmatched(demande: Demande, summary: str, now: datetime) -> bool:
    if demande.status in FINAL_STATUSES:
        return False
    demande.status = RequestStatus.UNMATCHED
    demande.status_detail = summary
    demande.status_changed_at = now
    return True
