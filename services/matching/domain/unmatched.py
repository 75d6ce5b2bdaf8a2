"""Why a demande is left without an actor, as one code, and who would have fitted.

The matcher says why each actor was set aside; this module sums that up for the
département's team and for the collectivité: for each uncovered need, how far the actors
that treat its theme in its phase got through the filters, and for the demande the
furthest of its needs. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.matching.domain.matcher import covers
from services.matching.domain.model import Actor, ActorState, Need, Requester

# From the least to the furthest an actor got; the codes of ``RequestUnmatched.reason``.
NO_ACTOR = "aucun_acteur"  # nobody of the offer treats the theme in that phase
TERRITORY = "territoire"  # those who do do not reach the collectivité
ELIGIBILITY = "eligibilite"  # population or kind of collectivité outside their rules
MEMBERSHIP = "adhesion_requise"  # members-only, and the collectivité holds no adhésion
CAPACITY = "capacite"  # at capacity
REFUSED = "refus"  # already declined, or let their proposal expire
_ORDER = (NO_ACTOR, TERRITORY, ELIGIBILITY, MEMBERSHIP, CAPACITY, REFUSED)

LABELS = {
    NO_ACTOR: "aucun acteur pour le thème et la phase",
    TERRITORY: "aucun acteur sur ce territoire",
    ELIGIBILITY: "critères de population ou de type de collectivité",
    MEMBERSHIP: "offre réservée aux adhérents",
    CAPACITY: "capacité des acteurs atteinte",
    REFUSED: "acteurs ayant décliné ou laissé expirer",
}


@dataclass(frozen=True, slots=True)
class Unmatched:
    reason: str
    # With MEMBERSHIP: the members-only actors that would have fitted, and for which needs.
    candidates: tuple[tuple[Actor, tuple[Need, ...]], ...] = ()


def _stage(actor: Actor, requester: Requester, state: ActorState, excluded: frozenset[str]) -> str:
    """How far an active actor of the département, covering the need, got."""
    rules = actor.eligibility
    if actor.territory.contains(requester) is None:
        return TERRITORY
    if (
        (rules.min_population is not None and requester.population < rules.min_population)
        or (rules.max_population is not None and requester.population > rules.max_population)
        or requester.kind not in rules.requester_kinds
    ):
        return ELIGIBILITY
    if rules.members_only and not requester.is_member:
        return MEMBERSHIP
    if state.load >= actor.capacity:
        return CAPACITY
    return REFUSED if actor.id in excluded else ""


def explain(
    uncovered: Sequence[Need],
    requester: Requester,
    actors: Sequence[Actor],
    states: Mapping[str, ActorState],
    excluded: frozenset[str] = frozenset(),
) -> Unmatched:
    """The reason of a demande whose ``uncovered`` needs nobody can take."""
    offer = [a for a in actors if a.active and a.departement == requester.departement]
    reasons: list[str] = []
    held: dict[str, list[Need]] = {}
    for need in uncovered:
        stages = {
            a.id: _stage(a, requester, states.get(a.id, ActorState()), excluded)
            for a in offer
            if covers(a, need)
        }
        # An actor that passes every filter would have covered the need: not this module's.
        known = [s for s in stages.values() if s]
        reasons.append(max(known, key=_ORDER.index) if known else NO_ACTOR)
        if reasons[-1] == MEMBERSHIP:
            for actor_id, stage in stages.items():
                if stage == MEMBERSHIP:
                    held.setdefault(actor_id, []).append(need)
    reason = max(reasons, key=_ORDER.index) if reasons else NO_ACTOR
    if reason != MEMBERSHIP:
        return Unmatched(reason)
    by_id = {a.id: a for a in offer}
    return Unmatched(
        reason, tuple((by_id[actor_id], tuple(needs)) for actor_id, needs in sorted(held.items()))
    )
