"""A mission's course: its milestones (a default plan per phase, which the actor or the
département adapts), marked done one by one, and the hand-overs between the actor's
agents. The mission itself is the accepted assignment (:mod:`.lifecycle`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid5

from services.matching.domain.lifecycle import Assignment, AssignmentStatus
from shared.contracts.vocabulary import Phase
from shared.french import PARIS

# Fixed forever: the default milestones' ids derive from it and the mission's id.
MILESTONE_NAMESPACE = UUID("0d8b6a57-4b43-4f5e-9f0e-3c7a1f2b9e14")

# (title, days after the acceptance) of the milestones every mission of a phase starts with.
DEFAULT_PLANS: dict[Phase, tuple[tuple[str, int], ...]] = {
    Phase.IDEE: (("Note d'opportunité remise", 30), ("Restitution aux élus", 60)),
    Phase.FAISABILITE: (
        ("Diagnostic remis", 30),
        ("Étude de faisabilité remise", 90),
        ("Restitution aux élus", 120),
    ),
    Phase.CONCEPTION: (
        ("Programme remis", 45),
        ("Avant-projet remis", 120),
        ("Dossier de consultation des entreprises (DCE) remis", 180),
    ),
    Phase.TRAVAUX: (
        ("Ordre de service de démarrage", 15),
        ("Suivi de chantier : point à mi-parcours", 120),
        ("Réception des travaux", 240),
    ),
    Phase.EXPLOITATION: (("Bilan de fonctionnement remis", 90),),
}

MAX_TITLE = 200


class MilestoneStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


MILESTONE_LABELS = {MilestoneStatus.OPEN: "à venir", MilestoneStatus.DONE: "remis"}


class MissionRefused(Exception):
    """What a mission's course refuses (message in French)."""


@dataclass(slots=True)
class Milestone:
    id: UUID
    assignment_id: UUID
    departement: str
    position: int
    title: str
    due_on: date
    status: MilestoneStatus = MilestoneStatus.OPEN
    done_at: datetime | None = None
    done_by: str | None = None
    note: str | None = None

    def mark_done(self, by: str, note: str | None, now: datetime) -> None:
        if self.status is MilestoneStatus.DONE:
            raise MissionRefused("Ce jalon est déjà remis.")
        self.status = MilestoneStatus.DONE
        self.done_at = now
        self.done_by = by
        self.note = note

    def edit(self, title: str | None, due_on: date | None) -> None:
        if self.status is MilestoneStatus.DONE:
            raise MissionRefused("Un jalon remis ne se modifie plus.")
        if title is not None:
            self.title = _title(title)
        if due_on is not None:
            self.due_on = due_on

    def late(self) -> bool:
        """Done (or still open, as of ``done_at``) after its due date, in Paris."""
        return self.done_at is not None and self.done_at.astimezone(PARIS).date() > self.due_on


def _title(title: str) -> str:
    cleaned = title.strip()
    if not cleaned or len(cleaned) > MAX_TITLE:
        raise MissionRefused(f"L'intitulé d'un jalon compte de 1 à {MAX_TITLE} caractères.")
    return cleaned


def mission_phase(assignment: Assignment) -> Phase:
    """The phase whose plan a mission follows: that of its first need."""
    return assignment.needs[0].phase if assignment.needs else Phase.FAISABILITE


def default_plan(assignment: Assignment, accepted_at: datetime) -> list[Milestone]:
    """The milestones a mission starts with, due from the day it was accepted (Paris)."""
    start = accepted_at.astimezone(PARIS).date()
    return [
        Milestone(
            id=uuid5(MILESTONE_NAMESPACE, f"{assignment.id}/{position}"),
            assignment_id=assignment.id,
            departement=assignment.departement,
            position=position,
            title=title,
            due_on=start + timedelta(days=days),
        )
        for position, (title, days) in enumerate(DEFAULT_PLANS[mission_phase(assignment)], 1)
    ]


def added_milestone(
    assignment: Assignment, existing: list[Milestone], milestone_id: UUID, title: str, due_on: date
) -> Milestone:
    """A milestone the actor or the département adds to the plan, after the others."""
    ensure_running(assignment)
    return Milestone(
        id=milestone_id,
        assignment_id=assignment.id,
        departement=assignment.departement,
        position=max((m.position for m in existing), default=0) + 1,
        title=_title(title),
        due_on=due_on,
    )


def ensure_running(assignment: Assignment) -> None:
    """Milestones and deliverables belong to a mission under way."""
    if assignment.status is not AssignmentStatus.ACCEPTED:
        raise MissionRefused("Cette mission n'est pas en cours : jalons et livrables sont figés.")


@dataclass(frozen=True, slots=True)
class Handover:
    """One mission handed from one agent of the actor to another: kept as history."""

    id: UUID
    assignment_id: UUID
    departement: str
    from_agent: str | None
    to_agent: str
    reason: str | None
    by: str
    at: datetime
