"""The matching use cases on in-memory fakes: routing, answers, expiry, withdrawal,
the catalogue and who may see or do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.matching.domain.catalogue import actors_from_document
from services.matching.domain.lifecycle import AssignmentStatus
from services.matching.domain.model import Actor
from services.matching.domain.routing import Policy
from services.matching.service_layer import actors, assignments, hand_routing, routing
from shared.auth.tokens import Principal, Role
from shared.contracts.conventions import ConventionExpired
from shared.contracts.matching import (
    ActorRegistered,
    ActorUpdated,
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.requests import RequestSubmittedV2, RequestWithdrawn
from shared.contracts.vocabulary import Theme
from shared.errors import Conflict, DomainValidationError, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.unit.fakes.matching import FakeUnitOfWork

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # a Wednesday
POLICY = Policy(response_working_days=5)
TEAM_49 = Principal(Role.DEPARTEMENT, "agent", "49")
ADMIN = Principal(Role.ADMIN, "root", None)
ANGERS = Principal(Role.COLLECTIVITE, "maire", "49", scope="49007")


def as_actor(actor_id: str) -> Principal:
    return Principal(Role.ACTOR, actor_id, "49", scope=actor_id)


def entry(actor_id: str, level: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": actor_id,
        "name": actor_id.upper(),
        "kind": "caue",
        "themes": {"architecture_paysage": level},
        "phases": ["idee", "faisabilite", "conception"],
        "territory": {"departements": ["49"]},
        "capacity": 2,
    } | extra


def catalogue(*entries: dict[str, Any], departement: str = "49") -> list[Actor]:
    return actors_from_document({"departement": departement, "actors": list(entries)})


async def offer(uow: FakeUnitOfWork, *entries: dict[str, Any]) -> None:
    async with uow:
        await actors.load_catalogue(uow, ADMIN, catalogue(*entries), NOW)
    uow.published.clear()


def submitted(
    themes: list[str], request_id: UUID | None = None
) -> tuple[RequestSubmittedV2, Envelope]:
    event = RequestSubmittedV2.model_validate(
        {
            "request_id": request_id or uuid4(),
            "departement": "49",
            "requester": {
                "kind": "commune",
                "code": "49007",
                "name": "Angers",
                "population": 152960,
            },
            "contact_id": uuid4(),
            "title": "Place du marché",
            "description": "Étude paysagère de la place.",
            "themes": themes,
            "phase": "faisabilite",
            "channel": "api",
            "submitted_at": NOW,
        }
    )
    envelope = Envelope(type=event.event_type, source="requests", departement="49")
    return event, envelope


async def route(uow: FakeUnitOfWork, themes: list[str]) -> tuple[RequestSubmittedV2, Envelope]:
    event, envelope = submitted(themes)
    async with uow:
        await routing.route_demande(uow, event, envelope, POLICY, get_territories(), NOW)
        await uow.commit()
    return event, envelope


def proposals(uow: FakeUnitOfWork) -> list[AssignmentProposed]:
    return [e for e in uow.events() if isinstance(e, AssignmentProposed)]


async def test_a_demande_goes_to_the_best_actor_with_the_reasons() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3), entry("agence", 2))
    event, envelope = await route(uow, ["architecture_paysage"])
    [proposed] = proposals(uow)
    assert (proposed.actor_id, proposed.lead, proposed.round) == ("caue", True, 1)
    assert "couvre 1 besoin sur 1" in proposed.reasons.lower()
    assert proposed.respond_by == NOW + timedelta(days=7)  # five working days
    assert uow.published[0][0].correlation_id == envelope.correlation_id
    [stored] = uow.assignments.rows.values()
    assert stored.status is AssignmentStatus.PROPOSED
    assert uow.demandes.rows[event.request_id].status == "open"


async def test_the_same_demande_twice_is_routed_once() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3))
    event, envelope = await route(uow, ["architecture_paysage"])
    async with uow:
        again = await routing.route_demande(uow, event, envelope, POLICY, get_territories(), NOW)
    assert again is None and len(proposals(uow)) == 1


async def test_a_demande_nobody_covers_is_unmatched_and_the_team_sees_why() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3))
    event, _ = await route(uow, ["energie"])
    [unmatched] = [e for e in uow.events() if isinstance(e, RequestUnmatched)]
    assert unmatched.request_id == event.request_id
    assert [n.theme for n in unmatched.uncovered_needs] == [Theme.ENERGIE]
    assert unmatched.summary_text and unmatched.reasons
    async with uow:
        [listed] = await routing.list_unmatched(uow, TEAM_49, None, 10, 0)
        assert listed.request_id == event.request_id
        with pytest.raises(Forbidden):
            await routing.list_unmatched(uow, as_actor("caue"), None, 10, 0)
        with pytest.raises(Forbidden):
            await routing.list_unmatched(uow, TEAM_49, "44", 10, 0)


async def test_accept_then_complete_and_only_the_actor_or_its_team_may_answer() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3), entry("agence", 2))
    await route(uow, ["architecture_paysage"])
    [proposed] = proposals(uow)
    async with uow:
        for outsider in (as_actor("agence"), ANGERS, Principal(Role.DEPARTEMENT, "a", "44")):
            with pytest.raises(Forbidden):
                await assignments.accept(uow, outsider, proposed.assignment_id, NOW)
        with pytest.raises(NotFound):
            await assignments.accept(uow, as_actor("caue"), uuid4(), NOW)
        done = await assignments.accept(uow, as_actor("caue"), proposed.assignment_id, NOW)
        assert done.status is AssignmentStatus.ACCEPTED
        with pytest.raises(Conflict):
            await assignments.accept(uow, as_actor("caue"), proposed.assignment_id, NOW)
        later = NOW + timedelta(days=20)
        await assignments.complete(
            uow, as_actor("caue"), proposed.assignment_id, Decimal("3.5"), "Fait.", later
        )
    accepted, completed = uow.events()[1:]
    assert isinstance(accepted, AssignmentAccepted) and accepted.actor_name == "CAUE"
    assert isinstance(completed, AssignmentCompleted)
    assert (completed.days_spent, completed.started_at) == (Decimal("3.5"), NOW)


async def test_a_decline_proposes_the_next_actor_then_the_demande_is_unmatched() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3), entry("agence", 2))
    await route(uow, ["architecture_paysage"])
    first = proposals(uow)[0]
    async with uow:
        await assignments.decline(
            uow, as_actor("caue"), first.assignment_id, "Trop loin", POLICY, get_territories(), NOW
        )
    declined, second = uow.events()[1:]
    assert isinstance(declined, AssignmentDeclined) and declined.reason == "Trop loin"
    assert isinstance(second, AssignmentProposed)
    assert (second.actor_id, second.round) == ("agence", 2)
    async with uow:
        await assignments.decline(
            uow, TEAM_49, second.assignment_id, None, POLICY, get_territories(), NOW
        )
    assert isinstance(uow.events()[-1], RequestUnmatched)
    assert "caue" in " ".join(uow.events()[-1].reasons)  # type: ignore[attr-defined]


async def test_an_expired_proposal_moves_to_the_next_candidate() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3), entry("agence", 2))
    await route(uow, ["architecture_paysage"])
    first = proposals(uow)[0]
    async with uow:
        assert await assignments.expire_due(uow, POLICY, get_territories(), NOW) == 0
    late = first.respond_by + timedelta(minutes=1)
    async with uow:
        assert await assignments.expire_due(uow, POLICY, get_territories(), late) == 1
    expired, second = uow.events()[1:]
    assert isinstance(expired, AssignmentExpired) and expired.assignment_id == first.assignment_id
    assert isinstance(second, AssignmentProposed) and second.actor_id == "agence"
    assert uow.assignments.rows[first.assignment_id].status is AssignmentStatus.EXPIRED


async def test_a_withdrawal_cancels_the_open_assignments_and_frees_the_capacity() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3, capacity=1))
    event, _ = await route(uow, ["architecture_paysage"])
    assert (await uow.actors.states(["caue"], "49007"))["caue"].load == 1
    withdrawn = RequestWithdrawn(
        request_id=event.request_id,
        departement="49",
        requester_code="49007",
        reason=None,
        withdrawn_at=NOW,
    )
    envelope = Envelope(type=withdrawn.event_type, source="requests", departement="49")
    async with uow:
        assert await routing.follow_withdrawal(uow, withdrawn, envelope, NOW) == 1
        await uow.commit()
        assert await routing.follow_withdrawal(uow, withdrawn, envelope, NOW) == 0
    [cancelled_envelope, cancelled] = uow.published[-1]
    assert isinstance(cancelled, AssignmentCancelled) and not cancelled.was_accepted
    assert cancelled_envelope.causation_id == envelope.id
    assert (await uow.actors.states(["caue"], "49007"))["caue"].load == 0


async def test_catalogue_load_publishes_new_and_changed_actors_only() -> None:
    uow = FakeUnitOfWork()
    async with uow:
        changed = await actors.load_catalogue(
            uow, TEAM_49, catalogue(entry("caue", 3), entry("agence", 2)), NOW
        )
        assert changed == 2
        assert await actors.load_catalogue(uow, TEAM_49, catalogue(entry("caue", 3)), NOW) == 0
        version = await actors.save_actor(
            uow, TEAM_49, catalogue(entry("caue", 3, capacity=9))[0], NOW
        )
    assert version == 2
    kinds = [type(e) for e in uow.events()]
    assert kinds == [ActorRegistered, ActorRegistered, ActorUpdated]
    updated = uow.events()[-1]
    assert isinstance(updated, ActorUpdated) and updated.capacity == 9
    assert updated.actor_id == "caue" and updated.themes == {Theme.ARCHITECTURE_PAYSAGE: 3}


async def test_only_the_departements_team_manages_its_catalogue() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3))
    async with uow:
        for outsider in (Principal(Role.DEPARTEMENT, "a", "44"), as_actor("caue"), ANGERS):
            with pytest.raises(Forbidden):
                await actors.save_actor(uow, outsider, catalogue(entry("x", 1))[0], NOW)
        team_44 = Principal(Role.DEPARTEMENT, "a", "44")
        foreign = catalogue(entry("caue", 1, territory={"departements": ["44"]}), departement="44")
        with pytest.raises(Conflict):
            await actors.save_actor(uow, team_44, foreign[0], NOW)
        assert [a.id for a in await actors.list_actors(uow, TEAM_49, None)] == ["caue"]
        with pytest.raises(Forbidden):
            await actors.list_actors(uow, TEAM_49, "44")
        with pytest.raises(NotFound):
            await actors.read_actor(uow, team_44, "caue")
        assert (await actors.read_actor(uow, TEAM_49, "caue")).name == "CAUE"
    assert uow.published == []


async def test_each_caller_sees_the_assignments_of_its_scope() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3), entry("agence", 2, themes={"energie": 3}))
    await route(uow, ["architecture_paysage"])
    await route(uow, ["energie"])
    caue, agence = proposals(uow)
    async with uow:

        async def listed(principal: Principal) -> set[str]:
            found = await assignments.list_assignments(
                uow, principal, status=None, departement=None, limit=10, offset=0
            )
            return {a.actor_id for a in found}

        assert await listed(TEAM_49) == {"caue", "agence"}
        assert await listed(as_actor("caue")) == {"caue"}
        with pytest.raises(Forbidden):
            await listed(ANGERS)
        read = await assignments.read_assignment(uow, as_actor("caue"), caue.assignment_id)
        assert read.actor_id == "caue"
        with pytest.raises(Forbidden):
            await assignments.read_assignment(uow, as_actor("caue"), agence.assignment_id)
        with pytest.raises(NotFound):
            await assignments.read_assignment(
                uow, Principal(Role.DEPARTEMENT, "a", "44"), caue.assignment_id
            )


async def test_an_expired_convention_cancels_the_mission_and_frees_the_capacity() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3, capacity=1))
    event, _ = await route(uow, ["architecture_paysage"])
    [proposed] = proposals(uow)
    async with uow:
        await assignments.accept(uow, as_actor("caue"), proposed.assignment_id, NOW)
    [accepted] = [e for e in uow.events() if isinstance(e, AssignmentAccepted)]
    # What billing needs to prepare the convention travels with the acceptance.
    assert (accepted.lead, accepted.actor_kind, accepted.requester_code) == (True, "caue", "49007")
    assert [n.theme for n in accepted.needs] == [Theme.ARCHITECTURE_PAYSAGE]

    def expired(version: int) -> ConventionExpired:
        return ConventionExpired(
            convention_id=uuid4(),
            number="CONV-49-2026-000001" + (f"-A{version}" if version else ""),
            version=version,
            departement="49",
            demande_id=event.request_id,
            assignment_id=proposed.assignment_id,
            actor_id="caue",
            collectivite_kind="commune",
            collectivite_code="49007",
            collectivite_name="Angers",
            total_excl_tax=Decimal("1000.00"),
            total_vat=Decimal("0.00"),
            total_incl_tax=Decimal("1000.00"),
            valid_until=NOW,
            expired_at=NOW,
        )

    envelope = Envelope(type=ConventionExpired.event_type, source="billing", departement="49")
    async with uow:
        # An avenant that expires leaves the signed convention and the mission alone.
        assert not await assignments.release_on_expired_convention(uow, expired(1), envelope, NOW)
        assert await assignments.release_on_expired_convention(uow, expired(0), envelope, NOW)
        await uow.commit()
        assert not await assignments.release_on_expired_convention(uow, expired(0), envelope, NOW)
    cancelled = uow.events()[-1]
    assert isinstance(cancelled, AssignmentCancelled) and cancelled.was_accepted
    assert cancelled.reason == assignments.CONVENTION_EXPIRED_REASON
    assert uow.assignments.rows[proposed.assignment_id].status is AssignmentStatus.CANCELLED
    assert (await uow.actors.states(["caue"], "49007"))["caue"].load == 0


async def test_the_team_routes_an_unmatched_demande_by_hand_within_capacity() -> None:
    uow = FakeUnitOfWork()
    await offer(uow, entry("caue", 3, capacity=1))
    event, _ = await route(uow, ["energie"])  # nobody treats énergie: unmatched
    uow.published.clear()
    async with uow:
        with pytest.raises(Forbidden):
            await routing_by_hand(uow, as_actor("caue"), event.request_id, "caue")
        with pytest.raises(NotFound):
            await routing_by_hand(uow, Principal(Role.DEPARTEMENT, "x", "44"), event.request_id)
        with pytest.raises(DomainValidationError):
            await routing_by_hand(uow, TEAM_49, event.request_id, "personne")
        proposed = await routing_by_hand(uow, TEAM_49, event.request_id, "caue")
    assert proposed.status is AssignmentStatus.PROPOSED and proposed.lead
    assert "équipe du département (agent)" in proposed.reasons
    [published] = proposals(uow)
    assert (published.actor_id, published.routed_by) == ("caue", "agent")
    assert published.criteria.score == 0.0
    assert uow.demandes.rows[event.request_id].status == "open"
    async with uow:
        # No longer unmatched; and the actor is now at its capacity of 1.
        with pytest.raises(Conflict):
            await routing_by_hand(uow, TEAM_49, event.request_id, "caue")
        other, _ = await route(uow, ["energie"])
        with pytest.raises(DomainValidationError, match="Capacité atteinte"):
            await routing_by_hand(uow, TEAM_49, other.request_id, "caue")


async def routing_by_hand(
    uow: FakeUnitOfWork, principal: Principal, request_id: UUID, actor_id: str = "caue"
) -> Any:
    reason = "Le CAUE connaît ce bâtiment."
    return await hand_routing.route_by_hand(
        uow, principal, request_id, actor_id, reason, POLICY, NOW
    )
