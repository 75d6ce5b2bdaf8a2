"""Use cases of the resources service on the in-memory fakes: who writes what, the waiting
list's rules, the retour d'expérience from draft to publication."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from services.resources.domain.experiences import ExperienceStatus
from services.resources.domain.sheets import CommuneSize, SearchQuery, commune_size
from services.resources.domain.suggestions import Candidate, Need, SuggestionKind, suggest
from services.resources.service_layer import experiences, sheets, training_follow_up, trainings
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentCompleted, NeedRef
from shared.contracts.resources import (
    Audience,
    ExperienceDrafted,
    ExperiencePublished,
    RegistrationReminderDue,
    RegistrationStatus,
    SheetKind,
    SheetPublished,
    SheetRevised,
)
from shared.contracts.vocabulary import Phase, Theme
from shared.errors import Conflict, DomainValidationError, Forbidden, NotFound
from shared.refdata import get_territories
from tests.unit.fakes.resources import FakeUnitOfWork

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
TEAM_49 = Principal(Role.DEPARTEMENT, "team-49", "49")
TEAM_44 = Principal(Role.DEPARTEMENT, "team-44", "44")
MAIRIE = Principal(Role.COLLECTIVITE, "mairie", "49", "49010")
ACTOR = Principal(Role.ACTOR, "caue", "49", "caue-49")


def sheet_draft(**changes: object) -> sheets.SheetDraft:
    values: dict[str, object] = {
        "title": "Le SPANC expliqué aux élus",
        "summary": "Ce que contrôle le service public d'assainissement non collectif.",
        "body": "# SPANC\n\nLe contrôle…",
        "kind": SheetKind.GUIDE,
        "themes": [Theme.EAU_ASSAINISSEMENT],
        "phases": [Phase.IDEE],
        "links": [],
        "review_on": date(2027, 1, 31),
    }
    return sheets.SheetDraft(**(values | changes))  # type: ignore[arg-type]


async def test_a_departement_team_publishes_and_revises_its_sheets() -> None:
    uow = FakeUnitOfWork()
    sheet = await sheets.publish_sheet(uow, TEAM_49, uuid4(), sheet_draft(), NOW)
    assert sheet.departement == "49"
    assert sheet.to_review(date(2027, 2, 1))
    revised = await sheets.revise_sheet(
        uow, TEAM_49, sheet.id, sheet_draft(review_on=date(2028, 1, 31)), NOW
    )
    assert revised.version == 2
    assert not revised.to_review(date(2027, 2, 1))
    published = [p for _, p in uow.published]
    assert [type(p) for p in published] == [SheetPublished, SheetRevised]
    assert [e.departement for e, _ in uow.published] == ["49", "49"]


@pytest.mark.parametrize("who", [MAIRIE, ACTOR, TEAM_44])
async def test_only_the_owner_team_writes_a_sheet(who: Principal) -> None:
    uow = FakeUnitOfWork()
    sheet = await sheets.publish_sheet(uow, TEAM_49, uuid4(), sheet_draft(), NOW)
    with pytest.raises(Forbidden):
        await sheets.revise_sheet(uow, who, sheet.id, sheet_draft(), NOW)
    if who.role is not Role.DEPARTEMENT:
        with pytest.raises(Forbidden):
            await sheets.publish_sheet(uow, who, uuid4(), sheet_draft(), NOW)


async def test_a_sheet_of_another_departement_is_hidden_unless_national() -> None:
    uow = FakeUnitOfWork()
    local = await sheets.publish_sheet(uow, TEAM_44, uuid4(), sheet_draft(), NOW)
    national = await sheets.publish_sheet(uow, TEAM_44, uuid4(), sheet_draft(national=True), NOW)
    with pytest.raises(NotFound):
        await sheets.read_sheet(uow, MAIRIE, local.id)
    assert (await sheets.read_sheet(uow, MAIRIE, national.id)).id == national.id
    with pytest.raises(Forbidden):
        await sheets.search(uow, MAIRIE, SearchQuery(departement="44"), limit=5, offset=0)
    hits, total = await sheets.search(uow, MAIRIE, SearchQuery(text="spanc"), limit=5, offset=0)
    assert (total, [h.id for h in hits]) == (1, [national.id])


async def test_a_sheet_needs_a_title_a_summary_and_web_links() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(DomainValidationError) as refused:
        await sheets.publish_sheet(
            uow, TEAM_49, uuid4(), sheet_draft(title="SPA", links=["javascript:alert(1)"]), NOW
        )
    assert {e.field for e in refused.value.errors} == {"title", "links"}


def session_draft(seats: int, **changes: object) -> trainings.SessionDraft:
    values: dict[str, object] = {
        "title": "Le PLUi pour les élus",
        "description": "",
        "themes": [Theme.URBANISME],
        "starts_at": NOW + timedelta(days=10),
        "ends_at": NOW + timedelta(days=10, hours=2),
        "online": True,
        "place": None,
        "seats": seats,
        "audience": [Audience.ELUS, Audience.AGENTS],
        "price_member": Decimal("0"),
        "price_non_member": Decimal("120.005"),
    }
    return trainings.SessionDraft(**(values | changes))  # type: ignore[arg-type]


async def test_an_actor_offers_a_session_priced_to_the_cent() -> None:
    uow = FakeUnitOfWork()
    training = await trainings.offer_session(uow, ACTOR, uuid4(), session_draft(10), NOW)
    assert (training.actor_id, training.price_non_member) == ("caue-49", Decimal("120.01"))
    with pytest.raises(Forbidden):
        await trainings.offer_session(uow, MAIRIE, uuid4(), session_draft(10), NOW)
    with pytest.raises(DomainValidationError) as refused:
        await trainings.offer_session(
            uow,
            ACTOR,
            uuid4(),
            session_draft(0, online=False, starts_at=NOW - timedelta(days=1)),
            NOW,
        )
    assert {e.field for e in refused.value.errors} == {"starts_at", "place", "seats"}


async def test_the_waiting_list_fills_then_moves_in_order() -> None:
    uow = FakeUnitOfWork()
    training = await trainings.offer_session(uow, ACTOR, uuid4(), session_draft(2), NOW)
    done = [
        await trainings.register(uow, MAIRIE, training.id, uuid4(), [f"Élu {i}"], NOW)
        for i in range(4)
    ]
    assert [r.status for r in done] == [
        RegistrationStatus.REGISTERED,
        RegistrationStatus.REGISTERED,
        RegistrationStatus.WAITING,
        RegistrationStatus.WAITING,
    ]
    promoted = await trainings.cancel_registration(uow, MAIRIE, done[1].id, NOW)
    assert [r.id for r in promoted] == [done[2].id]
    # A waiting registration cancelled frees no seat and promotes nobody.
    assert await trainings.cancel_registration(uow, TEAM_49, done[3].id, NOW) == []
    stored = await uow.trainings.get_session(training.id)
    assert stored is not None and stored.seats_taken == 2


async def test_registration_rules() -> None:
    uow = FakeUnitOfWork()
    training = await trainings.offer_session(uow, ACTOR, uuid4(), session_draft(5), NOW)
    other = Principal(Role.COLLECTIVITE, "autre", "49", "49007")
    with pytest.raises(Forbidden):
        await trainings.register(
            uow, MAIRIE, training.id, uuid4(), ["A B"], NOW, collectivite_code="49007"
        )
    with pytest.raises(Forbidden):
        await trainings.register(uow, ACTOR, training.id, uuid4(), ["A B"], NOW)
    with pytest.raises(DomainValidationError):
        await trainings.register(uow, MAIRIE, training.id, uuid4(), [" "], NOW)
    with pytest.raises(Conflict):
        await trainings.register(
            uow, MAIRIE, training.id, uuid4(), ["A B"], training.starts_at + timedelta(hours=1)
        )
    key = uuid4()
    first = await trainings.register(uow, MAIRIE, training.id, key, ["A  B"], NOW)
    again = await trainings.register(uow, MAIRIE, training.id, key, ["A B"], NOW)
    assert (first.participants, again.id) == (["A B"], first.id)
    with pytest.raises(Forbidden):
        await trainings.cancel_registration(uow, other, first.id, NOW)
    with pytest.raises(Forbidden):
        await trainings.register(
            uow,
            Principal(Role.COLLECTIVITE, "x", "44", "44109"),
            training.id,
            uuid4(),
            ["A B"],
            NOW,
        )


def completed(requester_code: str = "49010") -> AssignmentCompleted:
    return AssignmentCompleted(
        assignment_id=uuid4(),
        request_id=uuid4(),
        departement="49",
        actor_id="caue-49",
        actor_name="CAUE 49",
        actor_kind="caue",
        requester_code=requester_code,
        requester_kind="commune",
        needs=[
            NeedRef(theme=Theme.URBANISME, phase=Phase.FAISABILITE),
            NeedRef(theme=Theme.URBANISME, phase=Phase.CONCEPTION),
        ],
        days_spent=Decimal("3"),
        started_at=NOW,
        completed_at=NOW,
    )


def text() -> experiences.ExperienceText:
    return experiences.ExperienceText(
        title="Un PLU pour une petite commune",
        context="Commune rurale.",
        what_was_done="Un diagnostic puis le projet d'aménagement et de développement durable.",
        lessons="Associer les habitants tôt.",
        contacts="Mairie",
        cost=Decimal("9000"),
        duration_days=None,
    )


async def test_a_closed_mission_drafts_one_experience_published_after_consent() -> None:
    uow = FakeUnitOfWork()
    event = completed()
    draft = await experiences.draft_from_mission(uow, event, get_territories(), NOW)
    assert draft is not None
    assert (draft.commune_population, draft.themes, draft.phases) == (
        314,
        [Theme.URBANISME],
        [Phase.FAISABILITE, Phase.CONCEPTION],
    )
    assert commune_size(draft.commune_population) is CommuneSize.UNDER_500
    # The same event again (a redelivery) drafts nothing more.
    assert await experiences.draft_from_mission(uow, event, get_territories(), NOW) is None
    with pytest.raises(Conflict):
        await experiences.consent(uow, MAIRIE, draft.id, True, NOW)
    with pytest.raises(Forbidden):
        await experiences.write(uow, Principal(Role.ACTOR, "x", "49", "other"), draft.id, text())
    await experiences.write(uow, ACTOR, draft.id, text())
    with pytest.raises(NotFound):
        await experiences.read(uow, Principal(Role.COLLECTIVITE, "x", "49", "49007"), draft.id)
    with pytest.raises(Forbidden):
        await experiences.consent(uow, ACTOR, draft.id, True, NOW)
    published = await experiences.consent(uow, MAIRIE, draft.id, True, NOW)
    assert published.status is ExperienceStatus.PUBLISHED
    with pytest.raises(Conflict):
        await experiences.consent(uow, MAIRIE, draft.id, False, NOW)
    with pytest.raises(Conflict):
        await experiences.write(uow, ACTOR, draft.id, text())
    assert [type(p) for _, p in uow.published] == [ExperienceDrafted, ExperiencePublished]
    reader = Principal(Role.COLLECTIVITE, "x", "49", "49007")
    assert (await experiences.read(uow, reader, draft.id)).title == text().title


async def test_a_refused_consent_keeps_the_experience_unpublished() -> None:
    uow = FakeUnitOfWork()
    draft = await experiences.draft_from_mission(uow, completed(), get_territories(), NOW)
    assert draft is not None
    await experiences.write(uow, ACTOR, draft.id, text())
    refused = await experiences.consent(uow, MAIRIE, draft.id, False, NOW)
    assert refused.status is ExperienceStatus.REFUSED
    assert [type(p) for _, p in uow.published] == [ExperienceDrafted]
    hits, _ = await sheets.search(uow, MAIRIE, SearchQuery(text="plu"), limit=5, offset=0)
    assert hits == []


async def test_reminders_and_attendance_on_the_fakes() -> None:
    uow = FakeUnitOfWork()
    training = await trainings.offer_session(uow, ACTOR, uuid4(), session_draft(3), NOW)
    first = await trainings.register(uow, MAIRIE, training.id, uuid4(), ["Anne Martin"], NOW)
    # Ten days before: nothing; six days before: the 7-day reminder; the day before: the
    # 1-day one; each once.
    counts = [
        await training_follow_up.send_due_reminders(uow, training.starts_at - timedelta(days=d))
        for d in (10, 6, 6, 0.5, 0.5)
    ]
    assert counts == [0, 1, 0, 1, 0]
    reminders = [p for _, p in uow.published if isinstance(p, RegistrationReminderDue)]
    assert [r.days_before for r in reminders] == [7, 1]
    with pytest.raises(DomainValidationError):
        await training_follow_up.record_attendance(
            uow, ACTOR, first.id, ["Quelqu'un d'autre"], training.starts_at
        )
    marked = await training_follow_up.record_attendance(
        uow, ACTOR, first.id, ["Anne Martin"], training.starts_at
    )
    assert marked.present == ["Anne Martin"]
    with pytest.raises(Forbidden):
        await training_follow_up.certificate(
            uow, Principal(Role.COLLECTIVITE, "x", "49", "49007"), first.id
        )
    found, _ = await training_follow_up.certificate(uow, MAIRIE, first.id)
    assert found.present == ["Anne Martin"]


def test_an_experience_of_a_commune_of_the_same_size_ranks_first() -> None:
    need = Need("49", [Theme.URBANISME], Phase.FAISABILITE, population=420)
    small, large = uuid4(), uuid4()
    candidates = [
        Candidate(
            SuggestionKind.EXPERIENCE, large, "PLU d'une ville", [Theme.URBANISME], [], 40_000
        ),
        Candidate(SuggestionKind.EXPERIENCE, small, "PLU d'un village", [Theme.URBANISME], [], 380),
        Candidate(
            SuggestionKind.SHEET, uuid4(), "Hors sujet", [Theme.ENERGIE], [Phase.FAISABILITE]
        ),
    ]
    found = suggest(need, candidates, limit=5)
    assert [s.id for s in found] == [small, large]
    assert found[0].reason == (
        "Même thème (Urbanisme (PLU/PLUi, permis)), collectivité de moins de 500 habitants "
        "comme la vôtre."
    )
