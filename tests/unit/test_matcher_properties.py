"""Properties of the matcher on thousands of random offers and demandes.

The checks below restate the rules from scratch (eligibility, coverage, score)
rather than calling the matcher's helpers, so that a mistake in the matcher
cannot hide behind the same mistake in its test.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

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


def subsets(values: Sequence[str]) -> st.SearchStrategy[frozenset[str]]:
    if not values:
        return st.just(frozenset())
    return st.frozensets(st.sampled_from(values), max_size=len(values))


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
        commune_codes=frozenset(),
        epci_codes=frozenset({code}),
        departement_codes=frozenset({"49"}),
        is_member=is_member,
    )


@st.composite
def actors(draw: st.DrawFn, actor_id: str) -> Actor:
    bounds = st.sampled_from((None, None, None, *POPULATIONS))
    return Actor(
        id=actor_id,
        # Mostly the requester's département and active, so that enough pass the filters.
        departement=draw(st.sampled_from(("49", "49", "49", "35"))),
        name=f"Acteur {actor_id}",
        kind=draw(st.sampled_from(ActorKind)),
        themes=draw(
            st.dictionaries(
                st.sampled_from(THEMES), st.sampled_from(Expertise), min_size=1, max_size=4
            )
        ),
        phases=draw(st.frozensets(st.sampled_from(Phase), min_size=1)),
        territory=Territory(
            departements=draw(subsets(DEPARTEMENTS)),
            epcis=draw(subsets(EPCIS)),
            communes=draw(subsets(COMMUNES)),
        ),
        capacity=draw(st.integers(1, 6)),
        eligibility=Eligibility(
            min_population=draw(bounds),
            max_population=draw(bounds),
            members_only=draw(st.sampled_from((False, False, True))),
            requester_kinds=draw(st.frozensets(st.sampled_from(RequesterKind), min_size=1)),
        ),
        active=draw(st.sampled_from((True, True, True, True, False))),
    )


@st.composite
def cases(draw: st.DrawFn, max_actors: int = 15, max_phases: int = 1) -> Case:
    themes = draw(st.lists(st.sampled_from(THEMES), min_size=1, max_size=6, unique=True))
    phases = draw(st.lists(st.sampled_from(Phase), min_size=1, max_size=max_phases, unique=True))
    requester = draw(requesters())
    count = draw(st.integers(0, max_actors))
    offer = tuple(draw(actors(f"a{index:02d}")) for index in range(count))
    ids = [actor.id for actor in offer]
    states = {
        actor_id: ActorState(
            load=draw(st.sampled_from((0, 0, 1, 2, 3, 6))),
            collectivites=frozenset({requester.code}) if draw(st.booleans()) else frozenset(),
        )
        for actor_id in draw(subsets(ids))
    }
    weights = draw(
        st.sampled_from(
            (
                Weights(),
                Weights(coverage=1, expertise=1, load=1, continuity=1, locality=1),
                Weights(coverage=0.1, expertise=0.7, load=0.05, continuity=0.3, locality=0.2),
            )
        )
    )
    return Case(
        needs=tuple(Need(theme, phase) for theme in themes for phase in phases),
        requester=requester,
        actors=offer,
        states=states,
        excluded=draw(subsets(ids)),
        weights=weights,
    )


def run(case: Case, actors: Sequence[Actor] | None = None) -> Proposal:
    return propose(
        case.needs,
        case.requester,
        case.actors if actors is None else actors,
        case.states,
        case.weights,
        case.excluded,
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


@settings(FAST, max_examples=1200)
@given(cases())
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

    leads = [link for link in proposal.links if link.lead]
    assert len(leads) == (1 if proposal.links else 0)
    if proposal.links:
        assert proposal.links[0].lead
    assert proposal.summary


@settings(FAST, max_examples=1000)
@given(cases(max_actors=10))
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

    coverable = {need for need in case.needs if any(covers(actor, need) for actor in pool)}
    best: tuple[int, tuple[str, ...]] | None = None
    for size in range(len(pool) + 1):
        for subset in itertools.combinations(pool, size):
            reached = {need for actor in subset for need in case.needs if covers(actor, need)}
            if reached != coverable:
                continue
            key = (
                -sum(expected_score(actor, case) for actor in subset),
                tuple(sorted(actor.id for actor in subset)),
            )
            best = key if best is None or key < best else best
        if best is not None:
            break
    assert best is not None
    chain = tuple(sorted(link.candidate.actor.id for link in proposal.links))
    assert chain == best[1]


@settings(FAST, max_examples=800)
@given(cases(), st.randoms(use_true_random=False))
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


@settings(FAST, max_examples=500)
@given(cases(max_actors=8, max_phases=2))
def test_needs_over_several_phases_keep_the_chain_minimal_and_coherent(case: Case) -> None:
    # Up to 12 needs: the exact search must stay exact and quick beyond one phase.
    proposal = run(case)
    pool = candidates(case)
    assigned = [need for link in proposal.links for need in link.needs]
    assert len(assigned) == len(set(assigned))
    assert set(assigned) | set(proposal.uncovered) == set(case.needs)

    coverable = {need for need in case.needs if any(covers(actor, need) for actor in pool)}
    smallest = next(
        size
        for size in range(len(pool) + 1)
        for subset in itertools.combinations(pool, size)
        if {need for actor in subset for need in case.needs if covers(actor, need)} == coverable
    )
    assert len(proposal.links) == smallest
