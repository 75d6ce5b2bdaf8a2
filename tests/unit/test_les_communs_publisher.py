"""Our projects to Les Communs, on the fakes: the body their API expects, the newest state
kept per project, the publisher's retries without limit while they are away, a refusal
dead-lettered until a newer state comes; and the team told of a look-alike demande."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifications.adapters.mailer import Templates
from services.notifications.config import NotificationSettings
from services.notifications.domain import rules
from services.notifications.domain.delivery import DeliveryFailed
from services.notifications.domain.les_communs import upsert_body
from services.notifications.domain.model import Kind, Role
from services.notifications.domain.rules import Known
from services.notifications.service_layer.les_communs import LesCommunsPublisher, follow_project
from shared.contracts.projects import (
    LesCommunsPhase,
    LesCommunsStatus,
    ProjectPhaseClosed,
    ProjectPhaseOpened,
)
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from tests.support import events
from tests.unit.fakes.notifications import FakeUnitOfWork, Tables

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PROJECT = uuid.UUID("0b7f5a52-3c1e-4f0e-9d7b-8a1c2e3f4a5b")


def opened(revision: int = 1, **overrides: Any) -> ProjectPhaseOpened:
    values: dict[str, Any] = {
        "project_id": PROJECT,
        "demande_id": uuid.uuid4(),
        "departement": "49",
        "project_revision": revision,
        "phase_number": 1,
        "phase": Phase.FAISABILITE,
        "les_communs_phase": LesCommunsPhase.ETUDE,
        "les_communs_status": LesCommunsStatus.EN_COURS,
        "requester_kind": RequesterKind.EPCI,
        "requester_code": "200071983",
        "title": "Réseau de chaleur du centre-bourg",
        "description": "Étude de faisabilité d'un réseau de chaleur bois.",
        "themes": [Theme.ENERGIE],
        "opened_by": "departement:agent",
        "opened_at": NOW,
    }
    return ProjectPhaseOpened(**(values | overrides))


def closed(revision: int) -> ProjectPhaseClosed:
    fields = opened(revision).model_dump(
        exclude={"previous_demande_id", "opened_by", "opened_at", "carried_deliverables"}
    )
    fields["les_communs_status"] = LesCommunsStatus.TERMINE
    return ProjectPhaseClosed(**fields, outcome="completed", closed_at=NOW)


class FakeLesCommuns:
    """Les Communs as the publisher sees it: each upsert takes the next scripted failure."""

    def __init__(self, failures: list[DeliveryFailed | None]) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []

    async def upsert(self, body: dict[str, Any]) -> str:
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.received.append(body)
        return "lc-1"

    async def aclose(self) -> None:
        return None


def publisher(tables: Tables, client: FakeLesCommuns) -> LesCommunsPublisher:
    settings = NotificationSettings(
        les_communs_backoff_base_seconds=0.001, les_communs_backoff_max_seconds=0.001
    )
    return LesCommunsPublisher(
        uow_factory=lambda: FakeUnitOfWork(tables),
        client=client,
        settings=settings,
        draw=lambda: 0.0,
    )


def test_the_body_is_their_create_projet_request_keyed_on_our_project_id() -> None:
    assert upsert_body(opened()) == {
        "externalId": str(PROJECT),
        "nom": "Réseau de chaleur du centre-bourg",
        "description": "Étude de faisabilité d'un réseau de chaleur bois.",
        "phase": "Étude",
        "phaseStatut": "En cours",
        "collectivites": [{"type": "EPCI", "code": "200071983"}],
    }


async def test_only_a_newer_state_of_the_project_is_kept() -> None:
    tables = Tables()
    uow = FakeUnitOfWork(tables)
    assert await follow_project(uow, closed(2), NOW)
    assert not await follow_project(uow, opened(1), NOW)
    await uow.commit()
    [row] = tables.les_communs.values()
    assert (row.state.revision, row.state.body["phaseStatut"]) == (2, "Terminé")


async def test_retried_while_away_then_sent_once() -> None:
    tables = Tables()
    uow = FakeUnitOfWork(tables)
    await follow_project(uow, opened(1), NOW)
    await uow.commit()
    away = DeliveryFailed("connection_error")
    client = FakeLesCommuns([away, DeliveryFailed("http_503"), None])
    sender = publisher(tables, client)
    for _ in range(3):
        [row] = tables.les_communs.values()
        row.next_attempt_at = NOW - timedelta(seconds=1)
        assert await sender.publish_due() == 1
    [row] = tables.les_communs.values()
    assert (row.status, row.sent_revision, row.attempts) == ("sent", 1, 0)
    assert client.received == [upsert_body(opened(1))]
    assert await sender.publish_due() == 0


async def test_a_refusal_is_dead_lettered_until_a_newer_state_comes() -> None:
    tables = Tables()
    uow = FakeUnitOfWork(tables)
    await follow_project(uow, opened(1), NOW)
    await uow.commit()
    client = FakeLesCommuns([DeliveryFailed("http_400", "nom should not be empty", permanent=True)])
    sender = publisher(tables, client)
    await sender.publish_due()
    [row] = tables.les_communs.values()
    assert (row.status, row.last_error) == ("dead_lettered", "http_400: nom should not be empty")
    assert await sender.publish_due() == 0
    uow = FakeUnitOfWork(tables)
    await follow_project(uow, closed(2), datetime.now(UTC) - timedelta(seconds=1))
    await uow.commit()
    assert await sender.publish_due() == 1
    assert [b["phaseStatut"] for b in client.received] == ["Terminé"]


def test_a_look_alike_demande_is_told_to_the_team_with_its_candidate() -> None:
    event = events.duplicate_suspected(detected_at=NOW)
    [planned] = rules.plan(event, Known("49", "equipe-49@departement.example.fr"))
    assert (planned.kind, planned.role) == (Kind.DOUBLON_PRESUME, Role.TEAM)
    assert planned.address == "equipe-49@departement.example.fr"
    rendered = Templates().render(planned.kind, planned.context)
    assert "Doublon possible : Angers" in rendered.subject
    assert "« Rénovation énergétique de l'école Jules Ferry », déposée le 25 novembre 2026" in (
        rendered.text
    )
    assert "80" in rendered.text and "&#39;" in rendered.html
