"""What the messages of a mission's course say: a milestone done, a deliverable added, the
mission handed over to another of the actor's agents."""

from __future__ import annotations

from typing import Any

from shared.contracts.missions import DeliverableAdded, MilestoneDone, MissionReassigned
from shared.french import PARIS, file_size, long_date, long_datetime


def facts(payload: MilestoneDone | DeliverableAdded | MissionReassigned) -> dict[str, Any]:
    """The facts of a mission's event, written in French."""
    context: dict[str, Any] = {"acteur_nom": payload.actor_name}
    match payload:
        case MilestoneDone():
            context |= {
                "jalon": payload.title,
                "remis_le": long_datetime(payload.done_at),
                "echeance": long_date(payload.due_on),
                "en_retard": payload.late,
                "note": payload.note,
                "livrables": [f"{d.name} ({file_size(d.size)})" for d in payload.deliverables],
                "jalons_restants": payload.milestones_left,
            }
        case DeliverableAdded():
            context |= {
                "jalon": payload.milestone_title,
                "livrable": payload.deliverable.name,
                "taille": file_size(payload.deliverable.size),
                "lien": payload.deliverable.download_url,
                "ajoute_le": long_date(payload.added_at.astimezone(PARIS).date()),
            }
        case MissionReassigned():
            context |= {
                "ancien_agent": payload.from_agent,
                "nouvel_agent": payload.to_agent,
                "motif": payload.reason,
                "reaffectee_le": long_datetime(payload.reassigned_at),
            }
    return context
