"""Billing and membership, on the fakes: the membership offer answering an unmatched
``adhesion_requise``, the member rate from billing's own adhésions in force when the
lead actor accepted (the convention's price), and a partial enrolment that a seed
reproduces."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from services.billing.domain.invoice import totals
from services.billing.domain.pricing import cotisation_lines
from services.billing.domain.shipped_tariffs import tariff_for
from services.billing.service_layer import adhesions
from services.billing.service_layer.offers import offer_membership
from shared.contracts.billing import MembershipOffered
from shared.contracts.matching import CandidateRef, NeedRef, RequestUnmatched
from shared.contracts.vocabulary import Phase, Theme
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.unit.billing_missions import NOW, TEAM_49, bill, completion, sign_mission
from tests.unit.fakes.billing import FakeUnitOfWork
from tests.unit.test_billing_use_cases import ADMIN, register

NEED = NeedRef(theme=Theme.JURIDIQUE_MARCHES_PUBLICS, phase=Phase.FAISABILITE)


def unmatched(reason: str | None, code: str = "49002") -> RequestUnmatched:
    return RequestUnmatched(
        request_id=uuid4(),
        departement="49",
        requester_code=code,
        uncovered_needs=[NEED],
        reasons=[],
        summary_text="Aucun acteur disponible.",
        unmatched_at=NOW,
        reason=reason,  # type: ignore[arg-type]
        candidates=[
            CandidateRef(
                actor_id="amf49",
                actor_name="Association des maires de Maine-et-Loire",
                actor_kind="association_maires",
                needs=[NEED],
            )
        ],
    )


async def offer(uow: FakeUnitOfWork, event: RequestUnmatched) -> MembershipOffered | None:
    envelope = Envelope(type=event.event_type, source="matching", departement="49")
    found = await offer_membership(uow, event, envelope, get_territories(), NOW)
    await uow.commit()
    return found


async def test_a_non_member_refused_for_want_of_an_adhesion_gets_the_offer_of_the_year() -> None:
    uow = FakeUnitOfWork()
    event = unmatched("adhesion_requise")
    found = await offer(uow, event)
    assert found is not None and uow.events() == [found]
    commune = get_territories().requester("49002")
    assert commune is not None
    tariff = tariff_for("49", 2027)
    due = totals(cotisation_lines(tariff, "commune", commune.population, 2027))
    assert (found.year, found.collectivite_name, found.population) == (
        2027,
        commune.nom,
        commune.population,
    )
    assert (found.cotisation_excl_tax, found.cotisation_incl_tax) == (due.excl_tax, due.incl_tax)
    assert found.tariff_label == tariff.label
    [rate] = found.mission_rates
    fee = tariff.mission_fee("association_maires")
    assert (rate.actor_kind, rate.member, rate.non_member) == (
        "association_maires",
        fee.member,
        fee.non_member,
    )
    assert found.actor_names == ["Association des maires de Maine-et-Loire"]
    assert found.request_id == event.request_id


async def test_other_reasons_get_no_offer() -> None:
    uow = FakeUnitOfWork()
    for reason in (None, "aucun_acteur", "capacite", "territoire"):
        assert await offer(uow, unmatched(reason)) is None
    assert uow.events() == []


async def test_the_member_rate_needs_an_adhesion_in_force_when_the_lead_actor_accepted() -> None:
    uow = FakeUnitOfWork()
    adhesion_id = await register(uow, "49007")
    # Ended after the acceptance: the member rate still applies; by then: no longer.
    event = completion("49007")
    await adhesions.end_adhesion(
        uow, TEAM_49, adhesion_id, "Départ", datetime(2027, 10, 1, tzinfo=UTC)
    )
    member = await sign_mission(uow, event)
    assert member.pricing.is_member and member.totals.incl_tax == Decimal("850.00")
    invoiced = await bill(uow, event)
    # The completion is invoiced on that convention, whatever became of the adhésion since.
    assert invoiced is not None and invoiced.contract is not None
    assert invoiced.contract.convention_number == member.number
    other = await register(uow, "49015")
    await adhesions.end_adhesion(uow, TEAM_49, other, "Départ", NOW)
    late = await sign_mission(uow, completion("49015"))
    assert not late.pricing.is_member and late.totals.incl_tax == Decimal("1250.00")


async def test_a_partial_enrolment_takes_the_same_share_for_the_same_seed() -> None:
    territories = get_territories()
    everyone = len(territories.communes_of("90")) + sum(
        territories.home_departement(e.siren) == "90" for e in territories.epcis_of("90")
    )
    chosen = []
    for seed in (2026, 2026, 7):
        uow = FakeUnitOfWork()
        added = await adhesions.enrol(uow, 2027, ["90"], territories, NOW, share=0.6, seed=seed)
        assert added == round(everyone * 0.6)
        page, _ = await adhesions.list_adhesions(uow, ADMIN, "90", 2027, 1000, 0)
        chosen.append({a.collectivite_code for a in page})
    assert chosen[0] == chosen[1] != chosen[2]
