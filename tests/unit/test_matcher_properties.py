"""Properties of the matcher on thousands of random offers and demandes.

The checks below restate the rules from scratch (eligibility, coverage, score)
rather than calling the matcher's helpers, so that a mistake in the matcher
cannot hide behind the same mistake in its test.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.domain.matcher import propose
from services.matching.domain.model import (
    Actor,
    ActorKind,
    ActorState,
    Eligibility,
    Expertise,
    Need,
    Proposal,
    Requester,
    Territory,
    Weights,
)
from shared.contracts.vocabulary import Phase, RequesterKind, Theme

T = TypeVar("T")

# A small world, so that random actors often meet the requester and each other.
DEPARTEMENTS = ("49", "35")
EPCIS = ("244900015", "200071876", "200060010")
COMMUNES = ("49007", "49015", "49099", "49328")
THEMES = (
    Theme.URBANISME,
    Theme.VOIRIE_RESEAUX,
    Theme.ENERGIE,
    Theme.ARCHITECTURE_PAYSAGE,
    Theme.NUMERIQUE,
    Theme.FORMATION_ELUS,
)
POPULATIONS = (0, 350, 2_000, 9_999, 10_000, 45_000, 152_960, 296_390)

FAST = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Case:
    needs: tuple[Need, ...]
    requester: Requester
    actors: tuple[Actor, ...]
    states: dict[str, ActorState]
    excluded: frozenset[str]
    weights: Weights


def subsets(values: Sequence[T], *, empty: bool = True) -> st.SearchStrategy[frozenset[T]]:
    """Subsets of ``values`` drawn as one bitmask: one draw instead of one per element."""
    return st.integers(0 if empty else 1, 2 ** len(values) - 1).map(
        lambda mask: frozenset(value for bit, value in enumerate(values) if mask >> bit & 1)
    )


def expertise_map(picks: tuple[int, int, int], levels: int) -> dict[Theme, Expertise]:
    """One to three themes (a third one half of the time), with levels read in base 3.

    Few themes per actor, as in real offers, make chains of several actors.
    """
    chosen = {THEMES[pick] for pick in picks if pick < len(THEMES)}
    return {
        theme: Expertise(levels // 3**bit % 3 + 1)
        for bit, theme in enumerate(THEMES)
        if theme in chosen
    }


def mostly(usual: T, *others: T) -> st.SearchStrategy[T]:
    """``usual`` nine times out of ten, else one of ``others``."""
    return st.sampled_from((usual,) * 9 * len(others) + others)


# Strategies are built once, here, and draw few values: generating the data
# costs far more than running the matcher. Each field is mostly harmless, so
# that most actors pass the filters and chains get long, yet every filter
# fails often enough across thousands of cases.
ACTOR_SPECS = st.fixed_dictionaries(
    {
        "departement": mostly("49", "35"),
        "kind": st.sampled_from(ActorKind),
        "themes": st.builds(
            expertise_map,
            st.tuples(
                st.integers(0, len(THEMES) - 1),
                st.integers(0, len(THEMES) - 1),
                st.integers(0, 2 * len(THEMES) - 1),
            ),
            st.integers(0, 3 ** len(THEMES) - 1),
        ),
        # The union of two random sets: each phase served three times out of four.
        "phases": st.builds(
            frozenset.union,
            subsets(tuple(Phase), empty=False),
            subsets(tuple(Phase)),
        ),
        "territory": st.builds(
            Territory,
            departements=mostly(frozenset({"49"}), frozenset(), frozenset({"35"})),
            epcis=subsets(EPCIS),
            communes=subsets(COMMUNES),
        ),
        "capacity": st.integers(1, 6),
        "eligibility": st.builds(
            Eligibility,
            min_population=mostly(None, *POPULATIONS[1:5]),
            max_population=mostly(None, *POPULATIONS[3:]),
            members_only=mostly(False, True),
            requester_kinds=mostly(
                frozenset(RequesterKind),
                frozenset({RequesterKind.COMMUNE}),
                frozenset({RequesterKind.EPCI}),
            ),
        ),
        "active": mostly(True, False),
        "load": mostly(0, 1, 2, 3, 6),
        "known": st.booleans(),
        "excluded": mostly(False, True),
    }
)
WEIGHTS = st.sampled_from(
    (
        Weights(),
        Weights(coverage=1, expertise=1, load=1, continuity=1, locality=1),
        Weights(coverage=0.1, expertise=0.7, load=0.05, continuity=0.3, locality=0.2),
        # Coarse or null scores tie often, and then only the actor ids decide.
        Weights(coverage=0, expertise=0, load=0, continuity=0, locality=1),
        Weights(coverage=0, expertise=0, load=0, continuity=0, locality=0),
    )
)


@st.composite
def requesters(draw: st.DrawFn) -> Requester:
    population = draw(st.sampled_from(POPULATIONS))
    is_member = draw(st.booleans())
    if draw(st.booleans()):
        code = draw(st.sampled_from(COMMUNES))
        return Requester(
            kind=RequesterKind.COMMUNE,
            code=code,
            departement="49",
            population=population,
            commune_codes=frozenset({code}),
            epci_codes=frozenset({draw(st.sampled_from(EPCIS))}),
            departement_codes=frozenset({"49"}),
            is_member=is_member,
        )
    code = draw(st.sampled_from(EPCIS))
    return Requester(
        kind=RequesterKind.EPCI,
        code=code,
        departement="49",
        population=population,
        # Whether the service layer lists an EPCI's communes here or not, they
        # must not make a commune-level actor serve the whole EPCI.
        commune_codes=draw(subsets(COMMUNES)),
        epci_codes=frozenset({code}),
        departement_codes=frozenset({"49"}),
        is_member=is_member,
    )


REQUESTERS = requesters()


@st.composite
def cases(draw: st.DrawFn, min_actors: int, max_actors: int, max_phases: int) -> Case:
    themes = draw(st.lists(st.sampled_from(THEMES), min_size=1, max_size=6, unique=True))
    phases = draw(st.lists(st.sampled_from(Phase), min_size=1, max_size=max_phases, unique=True))
    requester = draw(REQUESTERS)
    # The count first: lists alone would favour very short offers.
    count = draw(st.integers(min_actors, max_actors))
    specs = draw(st.lists(ACTOR_SPECS, min_size=count, max_size=count))
    # Some actors are twins of the previous one: equal scores, so the ties are exercised.
    twins = draw(st.lists(mostly(False, True), min_size=count, max_size=count))
    for index in range(1, count):
        if twins[index]:
            specs[index] = specs[index - 1]
    offer = tuple(
        Actor(
            id=f"a{index:02d}",
            departement=spec["departement"],
            name=f"Acteur {index}",
            kind=spec["kind"],
            themes=spec["themes"],
            phases=spec["phases"],
            territory=spec["territory"],
            capacity=spec["capacity"],
            eligibility=spec["eligibility"],
            active=spec["active"],
        )
        for index, spec in enumerate(specs)
    )
    states = {
        actor.id: ActorState(
            load=spec["load"],
            collectivites=frozenset({requester.code}) if spec["known"] else frozenset(),
        )
        for actor, spec in zip(offer, specs, strict=True)
        # Idle actors without history are left out, as the service layer may do.
        if spec["load"] or spec["known"]
    }
    return Case(
        needs=tuple(Need(theme, phase) for theme in themes for phase in phases),
        requester=requester,
        actors=offer,
        states=states,
        excluded=frozenset(
            actor.id for actor, spec in zip(offer, specs, strict=True) if spec["excluded"]
        ),
        weights=draw(WEIGHTS),
    )


CASES = cases(min_actors=0, max_actors=15, max_phases=1)
# Small enough for brute force, large enough that several chains often compete.
SMALL_CASES = cases(min_actors=3, max_actors=10, max_phases=1)
MULTI_PHASE_CASES = cases(min_actors=2, max_actors=8, max_phases=2)


def run(case: Case) -> Proposal:
    return propose(
        case.needs, case.requester, case.actors, case.states, case.weights, case.excluded
    )


# --- the rules, restated -------------------------------------------------------------------------


def locality(territory: Territory, requester: Requester) -> float | None:
    if requester.kind == RequesterKind.COMMUNE and (
        requester.code in territory.communes or territory.communes & requester.commune_codes
    ):
        return 1.0
    if territory.epcis & requester.epci_codes:
        return 0.75
    if requester.departement in territory.departements:
        return 0.5
    return None


def passes_filters(actor: Actor, case: Case) -> bool:
    """Every hard filter except "covers a need"."""
    requester, rules = case.requester, actor.eligibility
    load = case.states.get(actor.id, ActorState()).load
    return (
        actor.active
        and actor.departement == requester.departement
        and locality(actor.territory, requester) is not None
        and (rules.min_population is None or requester.population >= rules.min_population)
        and (rules.max_population is None or requester.population <= rules.max_population)
        and (requester.is_member or not rules.members_only)
        and requester.kind in rules.requester_kinds
        and load < actor.capacity
        and actor.id not in case.excluded
    )


def covers(actor: Actor, need: Need) -> bool:
    return need.theme in actor.themes and need.phase in actor.phases


def candidates(case: Case) -> list[Actor]:
    return [
        actor
        for actor in case.actors
        if passes_filters(actor, case) and any(covers(actor, need) for need in case.needs)
    ]


def smallest_covers(case: Case, pool: list[Actor]) -> Iterator[tuple[Actor, ...]]:
    """By brute force, every set of the fewest candidates that covers all the needs any of
    them covers."""
    coverable = {need for need in case.needs if any(covers(actor, need) for actor in pool)}
    for size in range(len(pool) + 1):
        found = False
        for subset in itertools.combinations(pool, size):
            covered = {need for actor in subset for need in case.needs if covers(actor, need)}
            if covered == coverable:
                found = True
                yield subset
        if found:
            return


def expected_score(actor: Actor, case: Case) -> int:
    """The score in units of 1e-4, as the rules define it."""
    needs = set(case.needs)
    covered = [need for need in needs if covers(actor, need)]
    themes = {need.theme for need in covered}
    state = case.states.get(actor.id, ActorState())
    closeness = locality(actor.territory, case.requester)
    assert closeness is not None
    criteria = (
        round(len(covered) / len(needs), 4),
        round(sum(actor.themes[theme] / 3 for theme in themes) / len(themes), 4),
        round(1 - state.load / actor.capacity, 4),
        1.0 if case.requester.code in state.collectivites else 0.0,
        closeness,
    )
    w = case.weights
    weights = (w.coverage, w.expertise, w.load, w.continuity, w.locality)
    total = sum(weight * value for weight, value in zip(weights, criteria, strict=True))
    return round(round(total, 4) * 1e4)


# --- properties ----------------------------------------------------------------------------------


@settings(FAST, max_examples=800)
@given(CASES)
def test_the_chain_respects_every_hard_filter_and_partitions_the_needs(case: Case) -> None:
    proposal = run(case)
    by_id = {actor.id: actor for actor in case.actors}
    eligible = {actor.id for actor in candidates(case)}

    for link in proposal.links:
        actor = link.candidate.actor
        assert actor is by_id[actor.id]
        assert passes_filters(actor, case), actor.id
        assert link.needs, "an actor of the chain without a need"
        assert all(covers(actor, need) for need in link.needs)
        assert set(link.needs) <= set(link.candidate.needs)

    assigned = [need for link in proposal.links for need in link.needs]
    assert len(assigned) == len(set(assigned)), "two actors on one need"
    assert set(assigned).isdisjoint(proposal.uncovered)
    assert set(assigned) | set(proposal.uncovered) == set(case.needs)
    assert len(proposal.uncovered) == len(set(proposal.uncovered))
    for need in proposal.uncovered:
        assert not any(covers(by_id[actor_id], need) for actor_id in eligible)

    # Everybody is either a candidate or excluded, with a reason, once.
    excluded_ids = [exclusion.actor_id for exclusion in proposal.exclusions]
    assert excluded_ids == sorted(set(by_id) - eligible)
    assert all(exclusion.reason.endswith(".") for exclusion in proposal.exclusions)

    assert proposal.summary


@settings(FAST, max_examples=600)
@given(CASES)
def test_needs_go_to_the_most_expert_member_and_the_lead_has_the_most(case: Case) -> None:
    proposal = run(case)
    chain = [link.candidate for link in proposal.links]
    owner = {need: link.candidate for link in proposal.links for need in link.needs}
    for need, candidate in owner.items():
        rivals = [other for other in chain if covers(other.actor, need)]
        best = min(
            rivals,
            key=lambda c: (-c.actor.themes[need.theme], -c.criteria.score, c.actor.id),
        )
        assert candidate is best, need

    leads = [link for link in proposal.links if link.lead]
    assert len(leads) == (1 if proposal.links else 0)
    if proposal.links:
        lead = proposal.links[0]
        assert lead.lead
        assert all(
            (-len(lead.needs), -lead.candidate.criteria.score, lead.candidate.actor.id)
            <= (-len(link.needs), -link.candidate.criteria.score, link.candidate.actor.id)
            for link in proposal.links
        )
        others = [(-c.criteria.score, c.actor.id) for c in chain[1:]]
        assert others == sorted(others)


@settings(FAST, max_examples=700)
@given(SMALL_CASES)
def test_the_chain_is_the_smallest_then_best_scored_then_first_by_id(case: Case) -> None:
    proposal = run(case)
    pool = candidates(case)
    for link in proposal.links:
        criteria = link.candidate.criteria
        values = (criteria.coverage, criteria.expertise, criteria.load, criteria.continuity)
        assert all(0 <= value <= 1 for value in (*values, criteria.locality))
        assert round(criteria.score * 1e4) == expected_score(link.candidate.actor, case)
    if len(pool) > 8:
        return

    best = min(
        (-sum(expected_score(actor, case) for actor in subset), sorted(a.id for a in subset))
        for subset in smallest_covers(case, pool)
    )
    assert sorted(link.candidate.actor.id for link in proposal.links) == best[1]


@settings(FAST, max_examples=500)
@given(CASES, st.randoms(use_true_random=False))
def test_the_same_demande_gives_the_same_proposal_whatever_the_order(
    case: Case, rng: random.Random
) -> None:
    shuffled_actors = list(case.actors)
    rng.shuffle(shuffled_actors)
    shuffled_needs = [*case.needs, *case.needs[:1]]
    rng.shuffle(shuffled_needs)
    again = propose(
        shuffled_needs,
        case.requester,
        shuffled_actors,
        case.states,
        case.weights,
        case.excluded,
    )
    assert again == run(case)


@settings(FAST, max_examples=400)
@given(MULTI_PHASE_CASES)
def test_needs_over_several_phases_keep_the_chain_minimal_and_coherent(case: Case) -> None:
    # Up to 12 needs: the exact search must stay exact and quick beyond one phase.
    proposal = run(case)
    pool = candidates(case)
    assigned = [need for link in proposal.links for need in link.needs]
    assert len(assigned) == len(set(assigned))
    assert set(assigned) | set(proposal.uncovered) == set(case.needs)

    smallest = len(next(smallest_covers(case, pool)))
    assert len(proposal.links) == smallest
