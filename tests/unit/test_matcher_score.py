"""The matcher's score: each criterion, its reasons, and the weights between them."""

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
    ANGERS_LOIRE_METROPOLE,
    SIEML,
    actor,
    chain_ids,
    needs,
)

# --- the score -----------------------------------------------------------------------------------


def test_criteria_score_and_reasons_of_a_candidate() -> None:
    proposal = propose(
        needs(Theme.ENERGIE, Theme.BATIMENTS_PUBLICS, Theme.NUMERIQUE, phase=Phase.TRAVAUX),
        ANGERS_COMMUNE,
        [
            actor(
                "sieml",
                {Theme.ENERGIE: Expertise.EXPERT, Theme.BATIMENTS_PUBLICS: Expertise.CONFIRMED},
                name="SIEML",
                capacity=4,
                territory=Territory(epcis=frozenset({ANGERS_LOIRE_METROPOLE})),
            )
        ],
        {"sieml": ActorState(load=1, collectivites=frozenset({ANGERS}))},
    )

    candidate = proposal.links[0].candidate
    criteria = candidate.criteria
    assert criteria.coverage == 0.6667
    assert criteria.expertise == 0.8333
    assert criteria.load == 0.75
    assert criteria.continuity == 1.0
    assert criteria.locality == 0.75
    assert criteria.score == round(
        0.4 * 0.6667 + 0.25 * 0.8333 + 0.15 * 0.75 + 0.1 * 1.0 + 0.1 * 0.75, 4
    )
    assert candidate.reasons == (
        "Couvre 2 besoins sur 3 (bâtiments publics, énergie) ; expertise confirmée à experte ; "
        "charge 1/4 ; a déjà accompagné cette collectivité ; "
        "intervient sur le territoire de l'EPCI."
    )


def test_reasons_name_the_phase_when_the_needs_span_several() -> None:
    proposal = propose(
        [Need(Theme.ENERGIE, Phase.CONCEPTION), Need(Theme.ENERGIE, Phase.EXPLOITATION)],
        ANGERS_COMMUNE,
        [SIEML],
        {},
    )
    assert proposal.links[0].candidate.reasons.startswith(
        "Couvre 2 besoins sur 2 (énergie (études / conception), énergie (exploitation)) ; "
        "expertise experte ;"
    )


def test_continuity_puts_the_actor_who_knows_the_collectivite_first() -> None:
    twins = [
        actor("twin-a", {Theme.ENERGIE: Expertise.EXPERT}),
        actor("twin-b", {Theme.ENERGIE: Expertise.EXPERT}),
    ]
    alone = propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, twins, {})
    assert chain_ids(alone) == ["twin-a"]  # equal scores: the smaller id

    known = {"twin-b": ActorState(collectivites=frozenset({ANGERS}))}
    proposal = propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, twins, known)
    assert chain_ids(proposal) == ["twin-b"]
    assert proposal.links[0].candidate.criteria.continuity == 1.0


def test_locality_prefers_the_actor_closest_to_the_collectivite() -> None:
    offer = [
        actor("a-departement", {Theme.ENERGIE: Expertise.EXPERT}),
        actor(
            "b-epci",
            {Theme.ENERGIE: Expertise.EXPERT},
            territory=Territory(epcis=frozenset({ANGERS_LOIRE_METROPOLE})),
        ),
        actor(
            "c-commune",
            {Theme.ENERGIE: Expertise.EXPERT},
            territory=Territory(communes=frozenset({ANGERS})),
        ),
    ]
    assert chain_ids(propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, offer, {})) == ["c-commune"]
    assert chain_ids(propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, offer[:2], {})) == ["b-epci"]


def test_weights_decide_between_criteria() -> None:
    offer = [
        actor("busy-expert", {Theme.ENERGIE: Expertise.EXPERT}, capacity=4),
        actor("idle-novice", {Theme.ENERGIE: Expertise.NOTIONS}, capacity=4),
    ]
    states = {"busy-expert": ActorState(load=3)}
    expertise_first = Weights(coverage=0, expertise=1, load=0, continuity=0, locality=0)
    load_first = Weights(coverage=0, expertise=0, load=1, continuity=0, locality=0)
    assert chain_ids(
        propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, offer, states, expertise_first)
    ) == ["busy-expert"]
    assert chain_ids(propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, offer, states, load_first)) == [
        "idle-novice"
    ]
