"""What a play of the scenario saw and did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stack.scenario.missions import MissionCourse
from stack.scenario.plan import Demande


@dataclass(frozen=True)
class Mission:
    """An accepted proposal: the actor's mission for the demande."""

    demande: Demande
    assignment_id: str
    actor_id: str
    # The lead actor's mission has the demande's convention.
    lead: bool = False


@dataclass
class Outcome:
    submitted_at: dict[str, float] = field(default_factory=dict)
    departement: dict[str, str] = field(default_factory=dict)
    channel: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    withdrawn: set[str] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)
    proposal_latencies_ms: list[float] = field(default_factory=list)
    # ce_id of each demande's "submitted" event, to follow the emails it causes.
    submitted_event: dict[str, str] = field(default_factory=dict)
    email_latencies_ms: list[float] = field(default_factory=list)
    missions: list[Mission] = field(default_factory=list)
    course: MissionCourse = field(default_factory=MissionCourse)
    # The projects' next phases opened at the end (stack.scenario.phases.NextPhase).
    next_phases: list[Any] = field(default_factory=list)
    # Records seen on each dept.<code>.events.v1, and addresses seen on the shared topics.
    integration: Counter[str] = field(default_factory=Counter)
    emails_on_shared_topics: int = 0

    def routed(self, request_id: str) -> bool:
        """Whether matching routed the demande: a proposal, or nobody."""
        return bool(self.seen.get(request_id, set()) & {"proposed", "unmatched"})


@dataclass
class Played:
    """What :func:`stack.scenario.play.play` did: the scenario's outcome and the stack's
    own figures."""

    departements: tuple[str, ...]
    outcome: Outcome
    catalogues: dict[str, int]
    contacts: int
    enrolled: str
    cotisation_year: int
    run: dict[str, Any]
    seconds: float = 0.0
