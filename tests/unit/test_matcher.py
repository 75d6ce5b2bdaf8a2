"""The matcher on small, readable offers of Maine-et-Loire, with Angers asking."""

from __future__ import annotations

from dataclasses import replace

import pytest

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

ANGERS = "49007"
ANGERS_LOIRE_METROPOLE = "244900015"
SAUMUR_VAL_DE_LOIRE = "200071876"
AVRILLE = "49015"  # another commune of Angers Loire Métropole

ANGERS_COMMUNE = Requester(
    kind=RequesterKind.COMMUNE,
    code=ANGERS,
    departement="49",
    population=152_960,
    commune_codes=frozenset({ANGERS}),
    epci_codes=frozenset({ANGERS_LOIRE_METROPOLE}),
    departement_codes=frozenset({"49"}),
)
ALM_EPCI = Requester(
    kind=RequesterKind.EPCI,
    code=ANGERS_LOIRE_METROPOLE,
    departement="49",
    population=296_390,
    commune_codes=frozenset(),
    epci_codes=frozenset({ANGERS_LOIRE_METROPOLE}),
    departement_codes=frozenset({"49"}),
)
MAINE_ET_LOIRE = Territory(departements=frozenset({"49"}))


def actor(
    actor_id: str,
    themes: dict[Theme, Expertise],
    phases: frozenset[Phase] = frozenset(Phase),
    *,
    name: str | None = None,
    kind: ActorKind = ActorKind.AUTRE,
    territory: Territory = MAINE_ET_LOIRE,
    capacity: int = 10,
    eligibility: Eligibility = Eligibility(),  # noqa: B008
    departement: str = "49",
    active: bool = True,
) -> Actor:
    return Actor(
        id=actor_id,
        departement=departement,
        name=name or actor_id,
        kind=kind,
        themes=themes,
        phases=phases,
        territory=territory,
        capacity=capacity,
        eligibility=eligibility,
        active=active,
    )


CAUE = actor(
    "caue49",
    {
        Theme.ARCHITECTURE_PAYSAGE: Expertise.EXPERT,
        Theme.URBANISME: Expertise.CONFIRMED,
        Theme.BATIMENTS_PUBLICS: Expertise.CONFIRMED,
    },
    frozenset({Phase.IDEE, Phase.FAISABILITE, Phase.CONCEPTION}),
    name="CAUE de Maine-et-Loire",
    kind=ActorKind.CAUE,
)
SIEML = actor(
    "sieml",
    {Theme.ENERGIE: Expertise.EXPERT, Theme.VOIRIE_RESEAUX: Expertise.NOTIONS},
    name="SIEML",
    kind=ActorKind.SYNDICAT_ENERGIE,
    capacity=4,
)
AURA = actor(
    "aura-angers",
    {Theme.URBANISME: Expertise.EXPERT, Theme.MOBILITE: Expertise.EXPERT},
    frozenset({Phase.IDEE, Phase.FAISABILITE, Phase.CONCEPTION}),
    name="Agence d'urbanisme de la région angevine",
    kind=ActorKind.AGENCE_URBANISME,
    territory=Territory(epcis=frozenset({ANGERS_LOIRE_METROPOLE})),
)
NUMERIQUE = actor(
    "anjou-numerique",
    {Theme.NUMERIQUE: Expertise.EXPERT},
    frozenset({Phase.IDEE, Phase.FAISABILITE, Phase.CONCEPTION}),
    name="Anjou Numérique",
)
OFFER = (CAUE, SIEML, AURA, NUMERIQUE)


def needs(*themes: Theme, phase: Phase = Phase.CONCEPTION) -> list[Need]:
    return [Need(theme, phase) for theme in themes]


def chain_ids(proposal: Proposal) -> list[str]:
    return [link.candidate.actor.id for link in proposal.links]


def reason_for(proposal: Proposal, actor_id: str) -> str:
    (reason,) = [e.reason for e in proposal.exclusions if e.actor_id == actor_id]
    return reason


# --- territory -----------------------------------------------------------------------------------


def test_territory_says_at_which_level_it_reaches_the_requester() -> None:
    assert Territory(communes=frozenset({ANGERS})).contains(ANGERS_COMMUNE) == "commune"
    assert Territory(epcis=frozenset({ANGERS_LOIRE_METROPOLE})).contains(ANGERS_COMMUNE) == "epci"
    assert MAINE_ET_LOIRE.contains(ANGERS_COMMUNE) == "departement"
    assert Territory(epcis=frozenset({SAUMUR_VAL_DE_LOIRE})).contains(ANGERS_COMMUNE) is None
    # The narrowest level wins when several match.
    both = Territory(departements=frozenset({"49"}), communes=frozenset({ANGERS}))
    assert both.contains(ANGERS_COMMUNE) == "commune"


def test_an_epci_is_reached_by_its_own_siren_but_not_by_one_of_its_communes() -> None:
    assert Territory(epcis=frozenset({ANGERS_LOIRE_METROPOLE})).contains(ALM_EPCI) == "epci"
    assert Territory(communes=frozenset({ANGERS, AVRILLE})).contains(ALM_EPCI) is None


# --- hard filters --------------------------------------------------------------------------------


def test_each_hard_filter_excludes_with_its_own_french_reason() -> None:
    energy = {Theme.ENERGIE: Expertise.EXPERT}
    offer = [
        actor("a-inactive", energy, active=False),
        actor("b-other-departement", energy, departement="44"),
        actor("c-saumur-only", energy, territory=Territory(epcis=frozenset({SAUMUR_VAL_DE_LOIRE}))),
        actor("d-small-communes", energy, eligibility=Eligibility(max_population=10_000)),
        actor("e-large-only", energy, eligibility=Eligibility(min_population=200_000)),
        actor("f-members-only", energy, eligibility=Eligibility(members_only=True)),
        actor(
            "g-epci-only",
            energy,
            eligibility=Eligibility(requester_kinds=frozenset({RequesterKind.EPCI})),
        ),
        actor("h-full", energy, capacity=3),
        actor("i-declined", energy),
        actor("j-other-theme", {Theme.NUMERIQUE: Expertise.EXPERT}),
        actor("k-other-phase", energy, frozenset({Phase.IDEE})),
        actor("z-fits", energy),
    ]
    proposal = propose(
        needs(Theme.ENERGIE),
        ANGERS_COMMUNE,
        offer,
        {"h-full": ActorState(load=3)},
        excluded=frozenset({"i-declined"}),
    )

    assert chain_ids(proposal) == ["z-fits"]
    assert [e.actor_id for e in proposal.exclusions] == [a.id for a in offer[:-1]]
    assert reason_for(proposal, "a-inactive") == "Acteur désactivé dans le catalogue."
    assert reason_for(proposal, "b-other-departement") == (
        "Appartient à l'offre d'un autre département (44)."
    )
    assert reason_for(proposal, "c-saumur-only") == (
        "N'intervient pas sur le territoire de la collectivité."
    )
    assert reason_for(proposal, "d-small-communes") == (
        "Réservé aux collectivités de 10\u202f000 habitants au plus "
        "(celle-ci en compte 152\u202f960)."
    )
    assert reason_for(proposal, "e-large-only") == (
        "Réservé aux collectivités d'au moins 200\u202f000 habitants "
        "(celle-ci en compte 152\u202f960)."
    )
    assert reason_for(proposal, "f-members-only") == (
        "Réservé aux collectivités adhérentes de l'offre départementale."
    )
    assert reason_for(proposal, "g-epci-only") == "N'accompagne pas les communes."
    assert reason_for(proposal, "h-full") == (
        "Capacité atteinte : 3 mission(s) ou proposition(s) en cours pour une capacité de 3."
    )
    assert reason_for(proposal, "i-declined") == (
        "A déjà décliné ou laissé expirer une proposition pour cette demande."
    )
    assert reason_for(proposal, "j-other-theme") == "Ne traite aucun des thèmes de la demande."
    assert reason_for(proposal, "k-other-phase") == (
        "Traite énergie mais pas en phase études / conception."
    )


def test_only_the_first_failing_filter_is_told() -> None:
    inactive_elsewhere = actor(
        "x", {Theme.ENERGIE: Expertise.EXPERT}, active=False, departement="35"
    )
    proposal = propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, [inactive_elsewhere], {})
    assert proposal.exclusions[0].reason == "Acteur désactivé dans le catalogue."


def test_members_are_served_by_a_members_only_actor() -> None:
    amf = actor(
        "amf49",
        {Theme.JURIDIQUE_MARCHES_PUBLICS: Expertise.EXPERT},
        eligibility=Eligibility(members_only=True),
    )
    member = replace(ANGERS_COMMUNE, is_member=True)
    proposal = propose(needs(Theme.JURIDIQUE_MARCHES_PUBLICS), member, [amf], {})
    assert chain_ids(proposal) == ["amf49"]


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


# --- declines, determinism, bad input ------------------------------------------------------------


def test_an_actor_that_declined_is_replaced_by_the_next_one() -> None:
    offer = [SIEML, actor("sde-bis", {Theme.ENERGIE: Expertise.CONFIRMED})]
    first = propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, offer, {})
    assert chain_ids(first) == ["sieml"]

    second = propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, offer, {}, excluded=frozenset({"sieml"}))
    assert chain_ids(second) == ["sde-bis"]

    third = propose(
        needs(Theme.ENERGIE), ANGERS_COMMUNE, offer, {}, excluded=frozenset({"sieml", "sde-bis"})
    )
    assert third.links == ()
    assert third.uncovered == (Need(Theme.ENERGIE, Phase.CONCEPTION),)


def test_the_order_of_actors_and_needs_does_not_matter() -> None:
    wanted = needs(Theme.URBANISME, Theme.ENERGIE, Theme.NUMERIQUE, Theme.MOBILITE)
    reference = propose(wanted, ANGERS_COMMUNE, OFFER, {})
    again = propose([*reversed(wanted), wanted[0]], ANGERS_COMMUNE, tuple(reversed(OFFER)), {})
    assert again == reference


def test_duplicate_needs_count_once() -> None:
    proposal = propose(needs(Theme.ENERGIE, Theme.ENERGIE), ANGERS_COMMUNE, [SIEML], {})
    assert proposal.links[0].needs == (Need(Theme.ENERGIE, Phase.CONCEPTION),)
    assert proposal.links[0].candidate.criteria.coverage == 1.0


def test_two_actors_under_one_id_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate actor id"):
        propose(needs(Theme.ENERGIE), ANGERS_COMMUNE, [SIEML, SIEML], {})


def test_no_need_no_proposal() -> None:
    proposal = propose([], ANGERS_COMMUNE, OFFER, {})
    assert proposal.links == ()
    assert proposal.uncovered == ()
    assert proposal.summary == "Aucun besoin exprimé : aucun acteur à proposer."
