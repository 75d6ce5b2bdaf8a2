"""Routing by hand: the département's team proposes an actor it chose for a demande that
nobody covered. The team may go past the themes, phases and territory the matcher
requires (that is why it routes by hand), not past what the offer can bear: the actor
belongs to the département's offer, is active, and has room under its capacity, counted
as the matcher counts it (missions in progress and open proposals). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from services.matching.domain.matcher import covers
from services.matching.domain.model import Actor, ActorState, Criteria, Need

REASON_MIN, REASON_MAX = 3, 1000


def refusal(actor: Actor, state: ActorState, departement: str) -> str | None:
    """Why the team may not propose ``actor`` for a demande of ``departement``, in French;
    None when it may."""
    if actor.departement != departement:
        return "Cet acteur appartient à l'offre d'un autre département."
    if not actor.active:
        return "Cet acteur est désactivé dans le catalogue."
    if state.load >= actor.capacity:
        return (
            f"Capacité atteinte : {state.load} mission(s) ou proposition(s) en cours "
            f"pour une capacité de {actor.capacity}."
        )
    return None


def criteria(actor: Actor, state: ActorState, needs: Sequence[Need], continued: bool) -> Criteria:
    """What the matcher would show of this choice; the score is 0: a person chose, no rank."""
    covered = sum(1 for need in needs if covers(actor, need))
    return Criteria(
        coverage=round(covered / len(needs), 3) if needs else 0.0,
        expertise=0.0,
        load=round(max(0.0, 1 - state.load / actor.capacity), 3),
        continuity=1.0 if continued else 0.0,
        locality=0.0,
        score=0.0,
    )


def reasons(agent: str, reason: str) -> str:
    return f"Proposé par l'équipe du département ({agent}) : {reason}"
