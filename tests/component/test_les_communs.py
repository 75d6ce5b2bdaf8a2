"""Enter it once: our projects reach Les Communs from our own events, through the
notifications service, against a local server that implements the part of their
published API that we use (``stack.harness.les_communs``), with the real broker and
databases of the requests and notifications services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from services.notifications.adapters.orm import les_communs_projects
from shared.auth.tokens import Role
from shared.settings import KafkaSettings
from stack.harness.les_communs import LesCommunsServer, free_port
from tests.component.notification_demandes import settings_for
from tests.component.project_steps import ANGERS, TEAM_49, body, complete_mission
from tests.support.services import RunningService, running_service, service_fixture
from tests.support.smtp_server import SmtpSink, smtp_sink
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

API_KEY = "cle-de-test-des-communs"


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def les_communs_port() -> int:
    return free_port()


requests_service = service_fixture("requests_service", "requests")


@pytest.fixture
async def notifications(
    sink: SmtpSink,
    les_communs_port: int,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
) -> AsyncIterator[RunningService]:
    settings = settings_for(
        sink,
        les_communs_url=f"http://127.0.0.1:{les_communs_port}",
        les_communs_api_key=API_KEY,
        les_communs_poll_seconds=0.1,
        les_communs_backoff_base_seconds=0.2,
        les_communs_backoff_max_seconds=1.0,
    )
    async with running_service(
        "notifications", fresh_database, kafka_topics, build_options={"settings": settings}
    ) as running:
        yield running


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.1)


async def publications(notifications: RunningService) -> dict[str, Any]:
    async with notifications.runtime.session_factory() as session:
        rows = (await session.execute(select(les_communs_projects))).all()
    return {str(r.project_id): r for r in rows}


async def test_one_project_through_three_phases_reaches_les_communs_in_order(
    requests_service: RunningService,
    notifications: RunningService,
    les_communs_port: int,
    kafka_topics: KafkaSettings,
) -> None:
    async with LesCommunsServer(API_KEY, les_communs_port) as server:
        created = await requests_service.client.post("/v1/requests", json=body(), headers=ANGERS)
        demande = created.json()
        project = demande["project_id"]

        async def received(count: int) -> None:
            async def enough() -> bool:
                return len(server.state.received_for(project)) >= count

            await until(enough, f"{count} states of the project at Les Communs")

        await received(1)
        steps = [("atd49", "atd49", None), ("moe49", None, "travaux"), ("spl49", None, None)]
        for n, (lead, opener, wanted) in enumerate(steps):
            await complete_mission(requests_service, kafka_topics, demande["id"], lead)
            await received(2 * n + 2)
            if n == len(steps) - 1:
                break
            who = bearer(Role.ACTOR, "49", opener) if opener else TEAM_49
            opened = await requests_service.client.post(
                f"/v1/requests/{demande['id']}/next-phase",
                json={"phase": wanted} if wanted else {},
                headers=who,
            )
            assert opened.status_code == 201, opened.text
            demande = opened.json()
            await received(2 * n + 3)
        states = [(r.phase, r.phase_statut) for r in server.state.received_for(project)]
        assert states == [
            ("Étude", "En cours"),
            ("Étude", "Terminé"),
            ("Étude", "En cours"),
            ("Étude", "Terminé"),
            ("Opération", "En cours"),
            ("Opération", "Terminé"),
        ]
        # One project there, whatever the number of upserts: keyed on our project id.
        ids = {p["id"] for p in server.state.projets.values() if p["MatiereGriseId"] == project}
        assert len(ids) == 1
        [(stored_id, stored)] = [
            (i, p) for i, p in server.state.projets.items() if p["MatiereGriseId"] == project
        ]
        assert stored["collectivites"] == [{"type": "Commune", "code": "49007"}]
        assert (stored["phase"], stored["phaseStatut"]) == ("Opération", "Terminé")
        timeline = await requests_service.client.get(f"/v1/projects/{project}", headers=TEAM_49)
        assert [p["lead_actors"] for p in timeline.json()["phases"]] == [
            ["ATD49"],
            ["MOE49"],
            ["SPL49"],
        ]
        row = (await publications(notifications))[project]
        assert (row.status, row.sent_revision, row.les_communs_id) == ("sent", 6, stored_id)


async def test_les_communs_down_for_the_whole_run_gets_every_project_once_it_is_up(
    requests_service: RunningService,
    notifications: RunningService,
    les_communs_port: int,
) -> None:
    projects = []
    for n in range(5):
        created = await requests_service.client.post(
            "/v1/requests", json=body(title=f"Projet {n} de la commune, salle {n}"), headers=ANGERS
        )
        assert created.status_code == 201, created.text
        projects.append(created.json()["project_id"])

    async def all_tried() -> bool:
        rows = await publications(notifications)
        return all(p in rows and rows[p].attempts >= 2 for p in projects)

    # Writes never waited for Les Communs: every demande was created while it was away,
    # and the publisher has already tried, and failed, more than once for each.
    await until(all_tried, "every project tried while Les Communs is down")
    async with LesCommunsServer(API_KEY, les_communs_port) as server:

        async def all_sent() -> bool:
            rows = await publications(notifications)
            return all(rows[p].status == "sent" for p in projects)

        await until(all_sent, "every project sent once Les Communs is up")
        for project in projects:
            assert len(server.state.received_for(project)) == 1, project
            [received] = server.state.received_for(project)
            assert (received.phase, received.phase_statut) == ("Étude", "En cours")
    listed = await notifications.client.get("/v1/les-communs/projects", headers=TEAM_49)
    assert listed.status_code == 200, listed.text
    mine = {p["project_id"]: p for p in listed.json() if p["project_id"] in projects}
    assert {(p["status"], p["phase"], p["phase_status"]) for p in mine.values()} == {
        ("sent", "Étude", "En cours")
    }
    assert len(mine) == len(projects)
    refused = await notifications.client.get("/v1/les-communs/projects", headers=ANGERS)
    assert refused.status_code == 403
