"""The matcher on declines, reordered or duplicate input, and input it refuses."""

from __future__ import annotations

import pytest

from services.matching.domain.matcher import propose
from services.matching.domain.model import (
    Expertise,
    Need,
)
from shared.contracts.vocabulary import Phase, Theme
from tests.unit.matcher_offer import (
    ANGERS_COMMUNE,
    OFFER,
    SIEML,
    actor,
    chain_ids,
    needs,
)

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
