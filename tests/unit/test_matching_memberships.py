"""Members and members-only offers in matching, on the fakes: the projection of billing's
adhésions, who is a member for a demande, and why a demande is left unmatched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from services.matching.domain.routing import Policy
from services.matching.service_layer import memberships, routing
from shared.contracts.base import EventPayload
from shared.contracts.billing import AdhesionEnded, AdhesionRegistered
from shared.contracts.matching import AssignmentProposed, RequestUnmatched
from shared.contracts.vocabulary import RequesterKind
from shared.refdata import get_territories
from tests.unit.fakes.matching import FakeUnitOfWork
from tests.unit.test_matching_use_cases import NOW, POLICY, entry, offer, submitted

ANGERS = "49007"
ANGERS_EPCI = get_territories().requester(ANGERS).epci_siren  # type: ignore[union-attr]


def members_only(actor_id: str, **extra: Any) -> dict[str, Any]:
    return entry(actor_id, 3, eligibility={"members_only": True}, **extra)


def registered(
    code: str = ANGERS,
    *,
    year: int = NOW.year,
    at: datetime = NOW - timedelta(days=30),
    kind: RequesterKind = RequesterKind.COMMUNE,
) -> AdhesionRegistered:
    return AdhesionRegistered(
        adhesion_id=uuid4(),
        departement="49",
        year=year,
        collectivite_code=code,
        collectivite_kind=kind,
        collectivite_name=code,
        population=1000,
        registered_at=at,
    )


async def project(uow: FakeUnitOfWork, *events: EventPayload) -> None:
    async with uow:
        await memberships.apply(uow, events)
        await uow.commit()


async def routed(uow: FakeUnitOfWork, policy: Policy = POLICY) -> list[EventPayload]:
    event, envelope = submitted(["architecture_paysage"])
    async with uow:
        await routing.route_demande(uow, event, envelope, policy, get_territories(), NOW)
        await uow.commit()
    return uow.events()


async def test_a_non_member_is_refused_members_only_actors_with_the_reason_and_them() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, members_only("amf49"))
    [unmatched] = await routed(uow)
    assert isinstance(unmatched, RequestUnmatched)
    assert unmatched.reason == "adhesion_requise"
    assert [(c.actor_id, c.actor_kind) for c in unmatched.candidates] == [("amf49", "caue")]
    assert [n.theme.value for n in unmatched.candidates[0].needs] == ["architecture_paysage"]
    [stored] = uow.demandes.rows.values()
    assert (stored.status, stored.unmatched_reason) == ("unmatched", "adhesion_requise")


async def test_a_member_gets_the_members_only_actor() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, members_only("amf49"))
    await project(uow, registered())
    [proposed] = await routed(uow)
    assert isinstance(proposed, AssignmentProposed)
    assert proposed.actor_id == "amf49"


async def test_an_adhesion_counts_only_for_its_year_from_registration_until_its_end() -> None:
    ended = registered()
    cases: list[tuple[list[EventPayload], bool]] = [
        ([registered(year=NOW.year - 1)], False),
        ([registered(at=NOW + timedelta(hours=1))], False),
        (
            [ended, AdhesionEnded.model_validate(ended.model_dump() | {"ended_at": NOW})],
            False,
        ),
        (
            [
                ended,
                AdhesionEnded.model_validate(
                    ended.model_dump() | {"ended_at": NOW + timedelta(days=1)}
                ),
            ],
            True,
        ),
        ([registered(code="49015")], False),  # another commune
    ]
    for events, member in cases:
        uow = FakeUnitOfWork()
        await offer(uow, members_only("amf49"))
        await project(uow, *events)
        [outcome] = await routed(uow)
        assert isinstance(outcome, AssignmentProposed) is member, events


async def test_an_epci_adhesion_covers_its_communes_only_where_the_departement_says_so() -> None:
    epci = registered(ANGERS_EPCI, kind=RequesterKind.EPCI)
    for policy, member in [
        (POLICY, False),
        (replace(POLICY, epci_adhesion_covers_communes=frozenset({"35"})), False),
        (replace(POLICY, epci_adhesion_covers_communes=frozenset({"49"})), True),
    ]:
        uow = FakeUnitOfWork()
        await offer(uow, members_only("amf49"))
        await project(uow, epci)
        [outcome] = await routed(uow, policy)
        assert isinstance(outcome, AssignmentProposed) is member


async def test_every_unmatched_demande_says_why_with_a_code() -> None:
    busy = entry("busy", 3, capacity=1)
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([entry("other", 3, themes={"energie": 3})], "aucun_acteur"),
        ([entry("far", 3, territory={"communes": ["49015"]})], "territoire"),
        ([entry("small", 3, eligibility={"max_population": 5000})], "eligibilite"),
        (
            [members_only("amf49"), entry("small", 3, eligibility={"max_population": 10})],
            "adhesion_requise",
        ),
        ([members_only("amf49"), busy], "capacite"),
    ]
    for catalogue, reason in cases:
        uow = FakeUnitOfWork()
        await offer(uow, *catalogue)
        if any(a["id"] == "busy" for a in catalogue):
            await routed(uow)  # the first demande takes busy's one place
            uow.published.clear()
        [unmatched] = await routed(uow)
        assert isinstance(unmatched, RequestUnmatched)
        assert unmatched.reason == reason, catalogue
        assert bool(unmatched.candidates) is (reason == "adhesion_requise")


async def test_a_rebuild_forgets_the_projection_and_replays_the_history() -> None:
    uow = FakeUnitOfWork()
    stale = registered("49015")
    await project(uow, stale)
    kept, gone = registered(), registered("49099")
    history: list[list[EventPayload]] = [
        [kept, gone],
        [AdhesionEnded.model_validate(gone.model_dump() | {"ended_at": NOW})],
        [kept],  # a duplicate changes nothing
    ]
    seen: list[int] = []

    async def batches() -> AsyncIterator[list[EventPayload]]:
        for batch in history:
            yield batch

    held = await memberships.rebuild(uow, batches(), seen.append)
    assert held == 2
    assert seen == [2, 3, 4]
    assert set(uow.memberships.rows) == {kept.adhesion_id, gone.adhesion_id}
    assert uow.memberships.rows[gone.adhesion_id].ended_at == NOW
    assert uow.memberships.rows[kept.adhesion_id].registered_at == kept.registered_at
    assert stale.adhesion_id not in uow.memberships.rows
