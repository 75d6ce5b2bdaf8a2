"""The matcher's territories and hard filters: who is out, and the French reason why."""

from __future__ import annotations

from dataclasses import replace

from services.matching.domain.matcher import propose
from services.matching.domain.model import (
    ActorState,
    Eligibility,
    Expertise,
    Territory,
)
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from tests.unit.matcher_offer import (
    ALM_EPCI,
    ANGERS,
    ANGERS_COMMUNE,
    ANGERS_LOIRE_METROPOLE,
    AVRILLE,
    MAINE_ET_LOIRE,
    SAUMUR_VAL_DE_LOIRE,
    actor,
    chain_ids,
    needs,
    reason_for,
)

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
