"""The matcher's chain: the fewest actors that cover the needs, its lead and its summary."""

from __future__ import annotations

from services.matching.domain.matcher import propose
from services.matching.domain.model import (
    ActorState,
    Expertise,
    Need,
    Territory,
    Weights,
)
from shared.contracts.vocabulary import Phase, Theme
from tests.unit.matcher_offer import (
    ANGERS,
    ANGERS_COMMUNE,
    OFFER,
    actor,
    chain_ids,
    needs,
)

# --- the chain -----------------------------------------------------------------------------------


def test_two_themes_give_a_chain_of_two_actors_each_on_its_own_need() -> None:
    proposal = propose(needs(Theme.ARCHITECTURE_PAYSAGE, Theme.ENERGIE), ANGERS_COMMUNE, OFFER, {})

    assert sorted(chain_ids(proposal)) == ["caue49", "sieml"]
    assigned = {link.candidate.actor.id: link.needs for link in proposal.links}
    assert assigned == {
        "caue49": (Need(Theme.ARCHITECTURE_PAYSAGE, Phase.CONCEPTION),),
        "sieml": (Need(Theme.ENERGIE, Phase.CONCEPTION),),
    }
    assert proposal.uncovered == ()
    assert [e.actor_id for e in proposal.exclusions] == ["anjou-numerique", "aura-angers"]


def test_the_lead_is_the_actor_with_the_most_needs() -> None:
    proposal = propose(
        needs(Theme.ARCHITECTURE_PAYSAGE, Theme.BATIMENTS_PUBLICS, Theme.ENERGIE),
        ANGERS_COMMUNE,
        OFFER,
        {},
    )

    lead = proposal.links[0]
    assert lead.lead
    assert lead.candidate.actor.id == "caue49"
    assert len(lead.needs) == 2
    assert [link.lead for link in proposal.links] == [True, False]
    assert proposal.summary == (
        "Chaîne de 2 acteurs : CAUE de Maine-et-Loire (pilote) pour bâtiments publics, "
        "architecture et paysage ; SIEML pour énergie."
    )


def test_between_actors_with_as_many_needs_the_better_score_leads() -> None:
    proposal = propose(
        needs(Theme.ARCHITECTURE_PAYSAGE, Theme.ENERGIE),
        ANGERS_COMMUNE,
        OFFER,
        {"caue49": ActorState(load=9)},
    )
    scores = {link.candidate.actor.id: link.candidate.criteria.score for link in proposal.links}
    assert scores["sieml"] > scores["caue49"]
    assert chain_ids(proposal) == ["sieml", "caue49"]
    assert proposal.links[0].lead


def test_a_need_nobody_covers_is_reported_uncovered() -> None:
    proposal = propose(
        needs(Theme.ENERGIE, Theme.NUMERIQUE, phase=Phase.TRAVAUX), ANGERS_COMMUNE, OFFER, {}
    )

    assert chain_ids(proposal) == ["sieml"]
    assert proposal.uncovered == (Need(Theme.NUMERIQUE, Phase.TRAVAUX),)
    assert proposal.summary == (
        "Un acteur : SIEML (pilote) pour énergie ; "
        "1 besoin non couvert : numérique (travaux / réalisation)."
    )


def test_without_any_candidate_the_summary_says_so() -> None:
    proposal = propose(needs(Theme.MOBILITE, phase=Phase.TRAVAUX), ANGERS_COMMUNE, OFFER, {})

    assert proposal.links == ()
    assert proposal.uncovered == (Need(Theme.MOBILITE, Phase.TRAVAUX),)
    assert proposal.summary == (
        "Aucun acteur disponible ; 1 besoin non couvert : mobilité (travaux / réalisation)."
    )


def test_the_smallest_chain_wins_over_better_scored_specialists() -> None:
    generalist = actor(
        "generalist",
        {Theme.ENERGIE: Expertise.NOTIONS, Theme.MOBILITE: Expertise.NOTIONS},
        capacity=2,
    )
    specialists = [
        actor(
            "energy",
            {Theme.ENERGIE: Expertise.EXPERT},
            territory=Territory(communes=frozenset({ANGERS})),
        ),
        actor(
            "mobility",
            {Theme.MOBILITE: Expertise.EXPERT},
            territory=Territory(communes=frozenset({ANGERS})),
        ),
    ]
    proposal = propose(
        needs(Theme.ENERGIE, Theme.MOBILITE),
        ANGERS_COMMUNE,
        [*specialists, generalist],
        {"generalist": ActorState(load=1)},
    )
    assert chain_ids(proposal) == ["generalist"]
    assert len(proposal.links[0].needs) == 2


def test_between_equally_good_chains_the_actor_ids_decide() -> None:
    # Three chains of two cover the three needs; with every weight at zero they
    # all score 0, and the first by sorted ids, (a, b), is the one proposed.
    urbanisme, energie, numerique = Theme.URBANISME, Theme.ENERGIE, Theme.NUMERIQUE
    offer = [
        actor("c", {urbanisme: Expertise.EXPERT, energie: Expertise.EXPERT}),
        actor("d", {numerique: Expertise.EXPERT}),
        actor("a", {energie: Expertise.EXPERT, numerique: Expertise.EXPERT}),
        actor("b", {urbanisme: Expertise.EXPERT}),
    ]
    flat = Weights(coverage=0, expertise=0, load=0, continuity=0, locality=0)
    proposal = propose(needs(urbanisme, energie, numerique), ANGERS_COMMUNE, offer, {}, flat)
    assert sorted(chain_ids(proposal)) == ["a", "b"]


def test_between_chains_of_one_size_the_best_total_score_wins() -> None:
    offer = [
        actor("a-busy", {Theme.URBANISME: Expertise.EXPERT}, capacity=4),
        actor("b-busy", {Theme.ENERGIE: Expertise.EXPERT}, capacity=4),
        actor("y-idle", {Theme.URBANISME: Expertise.EXPERT}, capacity=4),
        actor("z-idle", {Theme.ENERGIE: Expertise.EXPERT}, capacity=4),
    ]
    states = {"a-busy": ActorState(load=3), "b-busy": ActorState(load=3)}
    proposal = propose(needs(Theme.URBANISME, Theme.ENERGIE), ANGERS_COMMUNE, offer, states)
    assert sorted(chain_ids(proposal)) == ["y-idle", "z-idle"]


def test_each_need_goes_to_the_most_expert_actor_of_the_chain() -> None:
    # Two actors are needed (each alone misses a theme); both can do urbanisme,
    # and it goes to the agence d'urbanisme, the expert.
    proposal = propose(
        needs(Theme.URBANISME, Theme.ARCHITECTURE_PAYSAGE, Theme.MOBILITE),
        ANGERS_COMMUNE,
        OFFER,
        {},
    )
    assigned = {link.candidate.actor.id: link.needs for link in proposal.links}
    assert assigned == {
        "aura-angers": (
            Need(Theme.URBANISME, Phase.CONCEPTION),
            Need(Theme.MOBILITE, Phase.CONCEPTION),
        ),
        "caue49": (Need(Theme.ARCHITECTURE_PAYSAGE, Phase.CONCEPTION),),
    }
    assert proposal.links[0].candidate.actor.id == "aura-angers"
