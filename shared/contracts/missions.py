"""Events of a mission's course, written by the matching service: milestones done,
deliverables added (their description, never their bytes) and hand-overs between an
actor's agents."""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import EventPayload
from shared.contracts.topics import MATCHING_MISSION


class DeliverableRef(BaseModel):
    """A deliverable as events describe it; the bytes are fetched from ``download_url``
    with a token allowed to read the mission."""

    model_config = ConfigDict(frozen=True)

    deliverable_id: UUID
    name: str
    content_type: str = Field(description="Sniffed from the bytes, not from the upload header.")
    size: int = Field(ge=1, description="Bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    download_url: str


class MissionEvent(EventPayload):
    """What every event of a mission carries (the mission is the accepted assignment)."""

    topic: ClassVar[str] = MATCHING_MISSION.name
    producer: ClassVar[str] = MATCHING_MISSION.writer

    assignment_id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    actor_name: str
    requester_code: str


class MilestoneDone(MissionEvent):
    event_type: ClassVar[str] = "matching.milestone.done.v1"
    summary: ClassVar[str] = "The actor marked a milestone of its mission done."

    milestone_id: UUID
    title: str
    position: int = Field(ge=1)
    due_on: date
    done_at: AwareDatetime
    late: bool = Field(description="Done after its due date (Paris time).")
    note: str | None = None
    deliverables: list[DeliverableRef] = Field(default_factory=list)
    milestones_left: int = Field(ge=0, description="Milestones of the mission still open.")


class DeliverableAdded(MissionEvent):
    event_type: ClassVar[str] = "matching.deliverable.added.v1"
    summary: ClassVar[str] = "The actor attached a deliverable to a milestone (without the bytes)."

    milestone_id: UUID
    milestone_title: str
    deliverable: DeliverableRef
    added_at: AwareDatetime


class MissionReassigned(MissionEvent):
    event_type: ClassVar[str] = "matching.mission.reassigned.v1"
    summary: ClassVar[str] = "The département handed a mission over to another agent of its actor."

    from_agent: str | None
    to_agent: str
    reason: str | None = None
    reassigned_by: str
    reassigned_at: AwareDatetime
