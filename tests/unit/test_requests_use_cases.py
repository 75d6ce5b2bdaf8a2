from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from services.requests.domain.model import RequestStatus
from services.requests.domain.progress import AssignmentView
from services.requests.service_layer import demandes
from shared.auth.tokens import Principal, Role
from shared.contracts.base import EventPayload
from shared.contracts.requests import ContactRecorded, RequestSubmittedV2, RequestWithdrawn
from shared.contracts.topics import REQUESTS_CONTACT, REQUESTS_REQUEST
from shared.errors import Conflict, DomainValidationError, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.unit.fakes.requests import FakeUnitOfWork
from tests.unit.requests_drafts import NOW, TEAM_49, draft, submission


def demande_events(uow: FakeUnitOfWork) -> list[tuple[Envelope, EventPayload]]:
    """The events of ``requests.request.v1``; the project's have their own tests."""
    return [(e, p) for e, p in uow.published if p.topic == REQUESTS_REQUEST.name]


async def test_submit_stores_the_demande_and_writes_its_event_in_the_same_commit() -> None:
    uow = FakeUnitOfWork()
    demande, created = await demandes.submit_request(
        uow, submission(draft()), get_territories(), NOW
    )
    assert created
    assert uow.commits == 1
    assert demande.requester_name == "Angers"
    assert demande.requester_population > 150_000
    assert demande.status is RequestStatus.SUBMITTED
    [(envelope, event)] = demande_events(uow)
    assert isinstance(event, RequestSubmittedV2)
    assert event.request_id == demande.id
    assert event.contact_id == demande.contact_id
    assert event.estimated_budget == Decimal("450000.00")
    assert envelope.departement == "49"
    assert envelope.type == "requests.request.submitted.v2"
    assert demande.correlation_id == envelope.correlation_id


async def test_the_contact_travels_alone_on_the_restricted_topic_before_the_demande() -> None:
    uow = FakeUnitOfWork()
    demande, _ = await demandes.submit_request(uow, submission(draft()), get_territories(), NOW)
    topics = [payload.topic for _, payload in uow.published]
    assert topics.index(REQUESTS_CONTACT.name) < topics.index(REQUESTS_REQUEST.name)
    [(envelope, contact)] = [(e, p) for e, p in uow.published if p.topic == REQUESTS_CONTACT.name]
    assert isinstance(contact, ContactRecorded)
    assert (contact.contact_id, contact.email) == (demande.contact_id, demande.contact.email)
    assert uow.outbox.keys[envelope.id] == str(demande.contact_id)
    # Nothing of the person on any shared topic.
    shared = [p.model_dump_json() for _, p in uow.published if p.topic != REQUESTS_CONTACT.name]
    assert not [body for body in shared if demande.contact.email in body]
    assert envelope.correlation_id == demande.correlation_id


async def test_same_request_id_twice_creates_one_demande_and_one_event() -> None:
    uow = FakeUnitOfWork()
    request_id = uuid4()
    first, created_first = await demandes.submit_request(
        uow, submission(draft(), request_id=request_id), get_territories(), NOW
    )
    second, created_second = await demandes.submit_request(
        uow, submission(draft(), request_id=request_id), get_territories(), NOW
    )
    assert (created_first, created_second) == (True, False)
    assert first.id == second.id
    assert len(demande_events(uow)) == 1


async def test_reusing_a_request_id_for_another_demande_is_a_conflict() -> None:
    uow = FakeUnitOfWork()
    request_id = uuid4()
    await demandes.submit_request(
        uow, submission(draft(), request_id=request_id), get_territories(), NOW
    )
    with pytest.raises(Conflict):
        await demandes.submit_request(
            uow,
            submission(draft(title="Un tout autre projet"), request_id=request_id),
            get_territories(),
            NOW,
        )


async def test_a_concurrent_submission_of_the_same_id_gives_the_stored_demande() -> None:
    uow = FakeUnitOfWork()
    request_id = uuid4()
    other = FakeUnitOfWork()
    stored, _ = await demandes.submit_request(
        other, submission(draft(), request_id=request_id), get_territories(), NOW
    )
    original_add = uow.demandes.add

    async def add_after_the_other(demande):  # type: ignore[no-untyped-def]
        # The other instance commits between our read (nothing yet) and our insert.
        uow.demandes.rows.update(other.demandes.rows)
        return await original_add(demande)

    uow.demandes.add = add_after_the_other  # type: ignore[method-assign]
    found, created = await demandes.submit_request(
        uow, submission(draft(), request_id=request_id), get_territories(), NOW
    )
    assert not created and found.id == stored.id
    assert uow.published == [] and uow.commits == 0


def test_who_may_submit_for_whom() -> None:
    territories = get_territories()
    assert demandes.submission_departement(TEAM_49, "49007", territories) == "49"
    admin = Principal(Role.ADMIN, "root", None)
    assert demandes.submission_departement(admin, "44109", territories) == "44"
    with pytest.raises(DomainValidationError):
        demandes.submission_departement(admin, "99999", territories)
    with pytest.raises(Forbidden):
        demandes.submission_departement(
            Principal(Role.ACTOR, "caue", "49", "caue-49"), "49007", territories
        )
    with pytest.raises(Forbidden):
        demandes.submission_departement(
            Principal(Role.COLLECTIVITE, "maire", "49", scope="49015"), "49007", territories
        )


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("99999", "Aucune commune de code 99999"),
        ("75056", "n'appartient pas au département 49"),
        ("4900A", "Code invalide"),
        ("123456789", "Aucune EPCI de code 123456789"),
    ],
)
async def test_requester_must_exist_and_belong_to_the_departement(code: str, fragment: str) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(DomainValidationError) as caught:
        await demandes.submit_request(
            uow, submission(draft(requester_code=code)), get_territories(), NOW
        )
    [error] = caught.value.errors
    assert error.field == "requester_code"
    assert fragment in error.message
    assert uow.published == [] and uow.demandes.rows == {}


async def test_an_epci_of_the_departement_can_ask() -> None:
    uow = FakeUnitOfWork()
    demande, _ = await demandes.submit_request(
        uow, submission(draft(requester_code="244900015")), get_territories(), NOW
    )
    assert demande.requester_kind.value == "epci"
    assert demande.requester_population == 296_390


async def test_dates_must_be_plausible() -> None:
    uow = FakeUnitOfWork()
    past = NOW.date() - timedelta(days=3)
    with pytest.raises(DomainValidationError) as caught:
        await demandes.submit_request(
            uow,
            submission(draft(wished_start=past, wished_end=past - timedelta(days=1))),
            get_territories(),
            NOW,
        )
    fields = sorted(e.field for e in caught.value.errors)
    assert fields == ["wished_end", "wished_end", "wished_start"]
    assert all("passé" in e.message or "précède" in e.message for e in caught.value.errors)


async def test_duplicate_themes_are_refused() -> None:
    with pytest.raises(DomainValidationError) as caught:
        await demandes.submit_request(
            FakeUnitOfWork(),
            submission(draft(themes=["energie", "energie"])),
            get_territories(),
            NOW,
        )
    assert [e.field for e in caught.value.errors] == ["themes"]


async def test_withdraw_emits_withdrawn_once_and_is_idempotent() -> None:
    uow = FakeUnitOfWork()
    demande, _ = await demandes.submit_request(uow, submission(draft()), get_territories(), NOW)
    owner = Principal(Role.COLLECTIVITE, "maire", "49", scope="49007")
    withdrawn = await demandes.withdraw_request(uow, owner, demande.id, "Projet abandonné", NOW)
    again = await demandes.withdraw_request(uow, owner, demande.id, "Projet abandonné", NOW)
    assert withdrawn.status is again.status is RequestStatus.WITHDRAWN
    published = demande_events(uow)
    assert [type(e) for _, e in published] == [RequestSubmittedV2, RequestWithdrawn]
    assert published[1][0].correlation_id == published[0][0].correlation_id


async def test_scopes_are_enforced_on_read_and_withdraw() -> None:
    uow = FakeUnitOfWork()
    demande, _ = await demandes.submit_request(uow, submission(draft()), get_territories(), NOW)
    other_commune = Principal(Role.COLLECTIVITE, "maire", "49", scope="49015")
    other_team = Principal(Role.DEPARTEMENT, "agent", "44")
    actor = Principal(Role.ACTOR, "caue", "49", scope="caue-49")
    for outsider in (other_commune, other_team, actor):
        with pytest.raises(Forbidden):
            await demandes.get_request(uow, outsider, demande.id)
        with pytest.raises(Forbidden):
            await demandes.withdraw_request(uow, outsider, demande.id, None, NOW)
    assert (await demandes.get_request(uow, TEAM_49, demande.id)).id == demande.id
    admin = Principal(Role.ADMIN, "root", None)
    assert (await demandes.get_request(uow, admin, demande.id)).id == demande.id
    with pytest.raises(NotFound):
        await demandes.get_request(uow, TEAM_49, uuid4())


async def test_listing_is_limited_to_the_callers_scope() -> None:
    uow = FakeUnitOfWork()
    for code in ("49007", "49007", "49015"):
        await demandes.submit_request(
            uow, submission(draft(requester_code=code)), get_territories(), NOW
        )
    await demandes.submit_request(
        uow, submission(draft(requester_code="44109"), departement="44"), get_territories(), NOW
    )
    angers = Principal(Role.COLLECTIVITE, "maire", "49", scope="49007")
    items, total = await demandes.list_requests(
        uow, angers, status=None, theme=None, commune=None, departement=None, limit=10, offset=0
    )
    assert total == 2 and {d.requester_code for d in items} == {"49007"}
    items, total = await demandes.list_requests(
        uow, TEAM_49, status=None, theme=None, commune=None, departement=None, limit=2, offset=0
    )
    assert total == 3 and len(items) == 2
    with pytest.raises(Forbidden):
        await demandes.list_requests(
            uow, TEAM_49, status=None, theme=None, commune=None, departement="44", limit=2, offset=0
        )


async def test_the_demande_follows_its_assignments() -> None:
    uow = FakeUnitOfWork()
    demande, _ = await demandes.submit_request(uow, submission(draft()), get_territories(), NOW)
    caue, sieml = uuid4(), uuid4()

    def view(assignment_id, actor, status, lead=False):  # type: ignore[no-untyped-def]
        return AssignmentView(
            assignment_id, actor, actor.upper(), lead, ["energie/faisabilite"], status, NOW
        )

    steps = [
        (view(caue, "caue", "proposed", lead=True), RequestStatus.PROPOSED),
        (view(sieml, "sieml", "proposed"), RequestStatus.PROPOSED),
        (view(caue, "caue", "declined"), RequestStatus.PROPOSED),
        (view(sieml, "sieml", "accepted"), RequestStatus.IN_PROGRESS),
        (view(sieml, "sieml", "completed"), RequestStatus.COMPLETED),
    ]
    for step, expected in steps:
        followed = await demandes.follow_assignment(uow, demande.id, step, NOW)
        assert followed is not None and followed.status is expected, (step, followed)
    assert "SIEML : mission terminée" in (followed.status_detail or "")
    read, views = await demandes.read_request(uow, TEAM_49, demande.id)
    assert read.status is RequestStatus.COMPLETED
    assert {(v.actor_id, v.status) for v in views} == {("caue", "declined"), ("sieml", "completed")}


async def test_an_unmatched_demande_says_why_and_a_withdrawn_one_stays_withdrawn() -> None:
    uow = FakeUnitOfWork()
    demande, _ = await demandes.submit_request(uow, submission(draft()), get_territories(), NOW)
    followed = await demandes.follow_assignment(
        uow, demande.id, None, NOW, unmatched_summary="Aucun acteur pour numérique / travaux"
    )
    assert followed is not None and followed.status is RequestStatus.UNMATCHED
    assert followed.status_detail == "Aucun acteur pour numérique / travaux"
    other, _ = await demandes.submit_request(uow, submission(draft()), get_territories(), NOW)
    await demandes.withdraw_request(uow, TEAM_49, other.id, None, NOW)
    late = AssignmentView(uuid4(), "caue", "CAUE", True, [], "proposed", NOW)
    followed = await demandes.follow_assignment(uow, other.id, late, NOW)
    assert followed is not None and followed.status is RequestStatus.WITHDRAWN
    assert await demandes.follow_assignment(uow, uuid4(), late, NOW) is None


async def test_an_unmatched_demande_routed_by_hand_is_proposed_again() -> None:
    uow = FakeUnitOfWork()
    demande, _ = await demandes.submit_request(uow, submission(draft()), get_territories(), NOW)
    declined = AssignmentView(uuid4(), "caue", "CAUE", True, [], "declined", NOW)
    await demandes.follow_assignment(uow, demande.id, declined, NOW)
    await demandes.follow_assignment(uow, demande.id, None, NOW, unmatched_summary="Personne")
    # A late event of the declined proposal leaves it unmatched...
    followed = await demandes.follow_assignment(uow, demande.id, declined, NOW)
    assert followed is not None and followed.status is RequestStatus.UNMATCHED
    # ...the actor the team chose by hand makes it proposed again.
    chosen = AssignmentView(uuid4(), "atd", "ATD", True, [], "proposed", NOW)
    followed = await demandes.follow_assignment(uow, demande.id, chosen, NOW)
    assert followed is not None and followed.status is RequestStatus.PROPOSED
    assert "ATD (pilote) : proposition en attente de réponse" in (followed.status_detail or "")
