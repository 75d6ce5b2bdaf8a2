"""Events of a mission's course, as the notifications tests build them."""

from __future__ import annotations

import uuid
from datetime import date

from shared.contracts.missions import (
    DeliverableAdded,
    DeliverableRef,
    MilestoneDone,
    MissionReassigned,
)
from tests.unit.notification_events import ASSIGNMENT, NOW, REQUEST

MILESTONE = uuid.UUID("8c1d0000-0000-4000-8000-0000000000aa")
COMMON = {
    "assignment_id": ASSIGNMENT,
    "request_id": REQUEST,
    "departement": "49",
    "actor_id": "caue49",
    "actor_name": "CAUE de Maine-et-Loire",
    "requester_code": "49007",
}


def deliverable(name: str = "diagnostic.pdf", size: int = 1_300_000) -> DeliverableRef:
    return DeliverableRef(
        deliverable_id=uuid.uuid4(),
        name=name,
        content_type="application/pdf",
        size=size,
        sha256="0" * 64,
        download_url=f"http://127.0.0.1:8002/v1/missions/{ASSIGNMENT}/deliverables/x",
    )


def milestone_done(request_id: uuid.UUID = REQUEST) -> MilestoneDone:
    return MilestoneDone.model_validate(
        COMMON
        | {
            "request_id": request_id,
            "milestone_id": MILESTONE,
            "title": "Diagnostic remis",
            "position": 1,
            "due_on": date(2026, 11, 20),
            "done_at": NOW,
            "late": True,
            "note": "Remis en mairie <b>ce matin</b>.",
            "deliverables": [deliverable()],
            "milestones_left": 2,
        }
    )


def deliverable_added(request_id: uuid.UUID = REQUEST) -> DeliverableAdded:
    return DeliverableAdded.model_validate(
        COMMON
        | {
            "request_id": request_id,
            "milestone_id": MILESTONE,
            "milestone_title": "Diagnostic remis",
            "deliverable": deliverable("plan.png", 12_600),
            "added_at": NOW,
        }
    )


def reassigned(request_id: uuid.UUID = REQUEST) -> MissionReassigned:
    return MissionReassigned.model_validate(
        COMMON
        | {
            "request_id": request_id,
            "from_agent": "Paul Durand",
            "to_agent": "Léa Roux",
            "reason": "Départ en retraite",
            "reassigned_by": "equipe-49",
            "reassigned_at": NOW,
        }
    )
