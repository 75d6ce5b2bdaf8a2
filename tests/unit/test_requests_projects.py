"""Projects across phases, on the fakes: a phase opens with its demande, closes with it,
the next one is opened by the lead actor or the département and routed again; the Les
Communs phase and status travel in every project event; look-alike demandes are flagged."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from services.requests.domain.duplicates import similarity
from services.requests.domain.model import RequestStatus
from services.requests.domain.progress import AssignmentView
from services.requests.domain.project import (
    LES_COMMUNS_PHASE,
    LES_COMMUNS_STATUS,
    NoNextPhase,
    next_phase,
)
from services.requests.service_layer import demandes, projects
from shared.auth.tokens import Principal, Role
from shared.contracts.projects import (
    ProjectDuplicateSuspected,
    ProjectPhaseClosed,
    ProjectPhaseOpened,
)
from shared.contracts.requests import RequestSubmittedV2
from shared.contracts.vocabulary import Phase
from shared.errors import Conflict, DomainValidationError, Forbidden
from shared.refdata import get_territories
from tests.unit.fakes.requests import FakeUnitOfWork
from tests.unit.requests_drafts import NOW, TEAM_49, draft, submission


async def submit(uow: FakeUnitOfWork, **overrides: object) -> demandes.Demande:
    demande, _ = await demandes.submit_request(
        uow,
        submission(draft(**({"title": "Rénovation énergétique de l'école"} | overrides))),
        get_territories(),
        NOW,
    )
    return demande


async def led_and_completed(uow: FakeUnitOfWork, demande_id: UUID, actor: str) -> None:
    """The actor leads the phase's mission to its end, as matching's events say."""
    assignment = uuid4()
    for status in ("proposed", "accepted", "completed"):
        view = AssignmentView(assignment, actor, actor.upper(), True, [], status, NOW)
        await demandes.follow_assignment(uow, demande_id, view, NOW)
        await uow.commit()


def project_events(uow: FakeUnitOfWork) -> list[ProjectPhaseOpened | ProjectPhaseClosed]:
    return [e for e in uow.events() if isinstance(e, ProjectPhaseOpened | ProjectPhaseClosed)]


async def test_a_new_demande_opens_a_project_in_the_les_communs_vocabulary() -> None:
    uow = FakeUnitOfWork()
    demande = await submit(uow)
    [opened] = project_events(uow)
    assert isinstance(opened, ProjectPhaseOpened)
    assert (opened.project_id, opened.demande_id) == (demande.project_id, demande.id)
    assert (opened.phase_number, opened.project_revision) == (1, 1)
    assert (opened.les_communs_phase.value, opened.les_communs_status.value) == (
        "Étude",
        "En cours",
    )
    assert opened.previous_demande_id is None
    assert uow.commits == 1


async def test_one_project_through_three_phases_with_three_lead_actors() -> None:
    uow = FakeUnitOfWork()
    first = await submit(uow)
    await led_and_completed(uow, first.id, "atd49")
    caue = Principal(Role.ACTOR, "caue-agent", "49", scope="atd49")
    second, created = await projects.open_next_phase(
        uow,
        caue,
        first.id,
        projects.NextPhase(uuid4(), deliverables=["livrable:etude-faisabilite.pdf"]),
        NOW + timedelta(days=30),
    )
    assert created and second.phase is Phase.CONCEPTION and second.phase_number == 2
    assert second.project_id == first.project_id and second.previous_demande_id == first.id
    await led_and_completed(uow, second.id, "moe49")
    third, _ = await projects.open_next_phase(
        uow,
        TEAM_49,
        second.id,
        projects.NextPhase(uuid4(), deliverables=["livrable:dce.pdf"]),
        NOW + timedelta(days=90),
    )
    await led_and_completed(uow, third.id, "spl49")
    assert third.phase is Phase.TRAVAUX
    assert third.carried_deliverables == ["livrable:etude-faisabilite.pdf", "livrable:dce.pdf"]
    # Every phase is a demande that matching routes again.
    submitted = [e for e in uow.events() if isinstance(e, RequestSubmittedV2)]
    assert [e.phase for e in submitted] == [Phase.FAISABILITE, Phase.CONCEPTION, Phase.TRAVAUX]
    steps = [
        (type(e).__name__, e.les_communs_phase.value, e.les_communs_status.value)
        for e in project_events(uow)
    ]
    assert steps == [
        ("ProjectPhaseOpened", "Étude", "En cours"),
        ("ProjectPhaseClosed", "Étude", "Terminé"),
        ("ProjectPhaseOpened", "Étude", "En cours"),
        ("ProjectPhaseClosed", "Étude", "Terminé"),
        ("ProjectPhaseOpened", "Opération", "En cours"),
        ("ProjectPhaseClosed", "Opération", "Terminé"),
    ]
    assert [e.project_revision for e in project_events(uow)] == [1, 2, 3, 4, 5, 6]
    assert {e.project_id for e in project_events(uow)} == {first.project_id}
    timeline = await projects.read_project(uow, TEAM_49, first.project_id)
    assert [(p.phase_number, p.demande.phase, p.lead_actors) for p in timeline.phases] == [
        (1, Phase.FAISABILITE, ["ATD49"]),
        (2, Phase.CONCEPTION, ["MOE49"]),
        (3, Phase.TRAVAUX, ["SPL49"]),
    ]


async def test_the_next_phase_is_opened_once_by_whom_may_and_when_the_phase_is_over() -> None:
    uow = FakeUnitOfWork()
    first = await submit(uow)
    with pytest.raises(Conflict):
        await projects.open_next_phase(uow, TEAM_49, first.id, projects.NextPhase(uuid4()), NOW)
    await led_and_completed(uow, first.id, "atd49")
    for who in (
        Principal(Role.ACTOR, "x", "49", scope="caue49"),
        Principal(Role.COLLECTIVITE, "maire", "49", scope="49007"),
        Principal(Role.DEPARTEMENT, "agent", "35"),
    ):
        with pytest.raises(Forbidden):
            await projects.open_next_phase(uow, who, first.id, projects.NextPhase(uuid4()), NOW)
    with pytest.raises(DomainValidationError):
        await projects.open_next_phase(
            uow, TEAM_49, first.id, projects.NextPhase(uuid4(), phase=Phase.IDEE), NOW
        )
    opened, created = await projects.open_next_phase(
        uow, TEAM_49, first.id, projects.NextPhase(uuid4(), phase=Phase.TRAVAUX), NOW
    )
    again, created_again = await projects.open_next_phase(
        uow, TEAM_49, first.id, projects.NextPhase(uuid4()), NOW
    )
    assert created and not created_again and again.id == opened.id
    with pytest.raises(Conflict):
        await projects.open_next_phase(
            uow, TEAM_49, first.id, projects.NextPhase(uuid4(), phase=Phase.CONCEPTION), NOW
        )


async def test_withdrawn_and_unmatched_phases_close_abandoned_and_blocked() -> None:
    uow = FakeUnitOfWork()
    withdrawn = await submit(uow, title="Création d'une maison de santé pluridisciplinaire")
    await demandes.withdraw_request(uow, TEAM_49, withdrawn.id, None, NOW)
    unmatched = await submit(uow, title="Extension du réseau de chaleur bois", phase="travaux")
    await demandes.follow_assignment(uow, unmatched.id, None, NOW, unmatched_summary="Aucun")
    await uow.commit()
    closed = [e for e in project_events(uow) if isinstance(e, ProjectPhaseClosed)]
    assert [(e.outcome, e.les_communs_phase.value, e.les_communs_status.value) for e in closed] == [
        ("withdrawn", "Étude", "Abandonné"),
        ("unmatched", "Opération", "Bloqué"),
    ]


async def test_a_look_alike_of_an_open_demande_is_stored_flagged_and_announced() -> None:
    uow = FakeUnitOfWork()
    original = await submit(uow)
    again = await submit(uow, title="Rénovation énergétique - école Jules-Ferry")
    other_phase = await submit(
        uow, title="Rénovation énergétique école Jules Ferry", phase="travaux"
    )
    other_topic = await submit(uow, title="Restauration de l'église Saint-Pierre")
    assert again.suspected_duplicate_of == [original.id]
    assert other_phase.suspected_duplicate_of == [] and other_topic.suspected_duplicate_of == []
    [flag] = [e for e in uow.events() if isinstance(e, ProjectDuplicateSuspected)]
    assert flag.demande_id == again.id and [c.demande_id for c in flag.candidates] == [original.id]
    # Stored all the same, its own project.
    assert again.id in uow.demandes.rows and again.project_id != original.project_id
    # A closed demande is no longer a candidate.
    await led_and_completed(uow, original.id, "atd49")
    await demandes.withdraw_request(uow, TEAM_49, again.id, None, NOW)
    later = await submit(uow, title="Rénovation énergétique de l'école Jules Ferry")
    assert later.suspected_duplicate_of == []


def test_titles_compare_by_their_words_not_their_spelling() -> None:
    assert similarity("Rénovation de l'ÉCOLE", "renovation ecole") == 1.0
    assert similarity("Voirie rue des Lilas", "Salle des fêtes") == 0.0


def test_the_next_phase_follows_the_order_of_phases() -> None:
    assert next_phase(Phase.FAISABILITE) is Phase.CONCEPTION
    assert next_phase(Phase.CONCEPTION) is Phase.TRAVAUX
    assert next_phase(Phase.FAISABILITE, Phase.TRAVAUX) is Phase.TRAVAUX
    with pytest.raises(NoNextPhase):
        next_phase(Phase.EXPLOITATION)
    with pytest.raises(NoNextPhase):
        next_phase(Phase.TRAVAUX, Phase.CONCEPTION)


def test_every_phase_and_status_of_ours_has_its_les_communs_counterpart() -> None:
    assert set(LES_COMMUNS_PHASE) == set(Phase)
    assert set(LES_COMMUNS_STATUS) == set(RequestStatus)


async def test_the_next_phase_carries_the_deliverables_of_the_closed_one() -> None:
    uow = FakeUnitOfWork()
    first = await submit(uow)
    report = "https://mg.example.fr/v1/deliverables/1/content"
    assert await projects.follow_deliverable(uow, first.id, report)
    # The same event delivered again keeps one reference.
    assert not await projects.follow_deliverable(uow, first.id, report)
    await led_and_completed(uow, first.id, "atd49")
    second, _ = await projects.open_next_phase(
        uow, TEAM_49, first.id, projects.NextPhase(uuid4(), deliverables=["dossier:plans"]), NOW
    )
    assert second.carried_deliverables == [report, "dossier:plans"]
    assert second.deliverables == []
