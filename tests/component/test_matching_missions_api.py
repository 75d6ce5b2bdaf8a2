"""The missions API of the matching service on its real database: the plan of an
accepted mission, a deliverable whose type is read from its bytes, a milestone done,
the timeline by role, the download, the hand-over; and the refusals (413 before the
file is read whole, 415, 403), each counted to have written nothing."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from services.matching.adapters.orm import assignments
from services.matching.domain.deliverables import MAX_DELIVERABLE_BYTES, PDF, PNG
from shared.auth.tokens import Role
from shared.settings import AuthSettings, KafkaSettings
from stack.scenario.missions import MissionCourse, deliver_milestones
from tests.component.missions_setup import (
    ANGERS,
    CAUE,
    ELSEWHERE,
    OTHER_ACTOR,
    TEAM,
    accepted_mission,
    demande_of,
    rows,
)
from tests.support import sample_files
from tests.support.services import RunningService, running_service
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
async def service(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[RunningService]:
    async with running_service("matching", fresh_database, kafka_topics) as running:
        yield running


async def plan(service: RunningService, mission: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await service.client.get(f"/v1/missions/{mission}/timeline", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def upload_url(mission: str, milestone: str, name: str = "diagnostic.pdf") -> str:
    return f"/v1/missions/{mission}/milestones/{milestone}/deliverables?name={name}"


async def test_a_milestone_done_with_its_deliverable_shows_on_the_timeline(
    service: RunningService,
) -> None:
    mission = await accepted_mission(service)
    timeline = await plan(service, mission, ANGERS)
    titles = [m["title"] for m in timeline["milestones"]]
    assert titles == ["Diagnostic remis", "Étude de faisabilité remise", "Restitution aux élus"]
    first = timeline["milestones"][0]["id"]
    ours = [await demande_of(service, mission)]
    before = await rows(service.database_url, ours)

    data = sample_files.pdf("Diagnostic de la place")
    # The header lies; the bytes say PDF.
    added = await service.client.post(
        upload_url(mission, first),
        content=data,
        headers=CAUE | {"Content-Type": "image/png"},
    )
    assert added.status_code == 201, added.text
    deliverable = added.json()
    assert deliverable["content_type"] == PDF
    assert deliverable["size"] == len(data)
    assert deliverable["sha256"] == hashlib.sha256(data).hexdigest()

    done = await service.client.post(
        f"/v1/missions/{mission}/milestones/{first}/done",
        json={"note": "Remis en mairie."},
        headers=CAUE,
    )
    assert done.status_code == 200, done.text
    assert done.json()["status_label"] == "remis"
    again = await service.client.post(
        f"/v1/missions/{mission}/milestones/{first}/done", headers=CAUE
    )
    assert again.status_code == 409
    assert again.json()["detail"] == "Ce jalon est déjà remis."

    after = await rows(service.database_url, ours)
    assert after["deliverables"] == before["deliverables"] + 1
    assert after["deliverable_contents"] == before["deliverable_contents"] + 1
    assert after["outbox"] == before["outbox"] + 2  # deliverable added, milestone done

    for reader in (ANGERS, TEAM, CAUE):
        seen = await plan(service, mission, reader)
        [shown] = seen["milestones"][0]["deliverables"]
        assert shown["id"] == deliverable["id"]
        assert [e["label"] for e in seen["events"]] == [
            "Mission acceptée",
            "Livrable ajouté : diagnostic.pdf",
            "Jalon remis : Diagnostic remis",
        ]
        download = await service.client.get(
            f"/v1/missions/{mission}/deliverables/{deliverable['id']}", headers=reader
        )
        assert download.status_code == 200
        assert download.content == data
        assert download.headers["content-type"] == PDF
    request_id = seen["request_id"]
    for reader, expected in ((ANGERS, 1), (TEAM, 1), (CAUE, 1), (ELSEWHERE, 0), (OTHER_ACTOR, 0)):
        listed = await service.client.get(f"/v1/missions?request_id={request_id}", headers=reader)
        assert listed.status_code == 200
        assert [m["assignment_id"] for m in listed.json()] == [mission] * expected
    for outsider in (ELSEWHERE, OTHER_ACTOR, bearer(Role.DEPARTEMENT, "44")):
        refused = await service.client.get(
            f"/v1/missions/{mission}/deliverables/{deliverable['id']}", headers=outsider
        )
        assert refused.status_code == 403
        assert (
            await service.client.get(f"/v1/missions/{mission}/timeline", headers=outsider)
        ).status_code == 403


async def test_the_plan_is_edited_by_the_actor_and_the_team_not_the_collectivite(
    service: RunningService,
) -> None:
    mission = await accepted_mission(service)
    added = await service.client.post(
        f"/v1/missions/{mission}/milestones",
        json={"title": "Réunion publique", "due_on": "2027-03-01"},
        headers=TEAM,
    )
    assert added.status_code == 201, added.text
    assert added.json()["position"] == 4
    moved = await service.client.patch(
        f"/v1/missions/{mission}/milestones/{added.json()['id']}",
        json={"due_on": "2027-04-01"},
        headers=CAUE,
    )
    assert moved.status_code == 200 and moved.json()["due_on"] == "2027-04-01"
    refused = await service.client.post(
        f"/v1/missions/{mission}/milestones",
        json={"title": "Autre", "due_on": "2027-03-01"},
        headers=ANGERS,
    )
    assert refused.status_code == 403


def chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    """A PDF of ``total`` bytes sent in pieces, without a Content-Length."""
    yield b"%PDF-1.4\n"
    sent = 9
    while sent < total:
        piece = min(size, total - sent)
        yield b"0" * piece
        sent += piece


async def test_bad_uploads_are_refused_in_french_and_write_nothing(
    service: RunningService,
) -> None:
    mission = await accepted_mission(service)
    first = (await plan(service, mission, CAUE))["milestones"][0]["id"]
    url = upload_url(mission, first)
    ours = [await demande_of(service, mission)]
    before = await rows(service.database_url, ours)

    announced = await service.client.post(
        url, content=b"%PDF-" + b"0" * MAX_DELIVERABLE_BYTES, headers=CAUE
    )
    assert announced.status_code == 413
    assert announced.json()["detail"] == "Fichier trop volumineux : 10 Mo au plus par livrable."

    async def streamed() -> AsyncIterator[bytes]:
        for piece in chunks(MAX_DELIVERABLE_BYTES + 1):
            yield piece

    unannounced = await service.client.post(url, content=streamed(), headers=CAUE)
    assert unannounced.status_code == 413

    for data in (b"GIF89a\x01\x00", b"MZ\x90\x00", b"PK\x03\x04 not an office file"):
        refused = await service.client.post(url, content=data, headers=CAUE | {"Content-Type": PDF})
        assert refused.status_code == 415
        assert refused.json()["detail"].startswith("Type de fichier non accepté")

    for outsider in (OTHER_ACTOR, ANGERS, bearer(Role.DEPARTEMENT, "44")):
        forbidden = await service.client.post(url, content=sample_files.pdf(), headers=outsider)
        assert forbidden.status_code == 403
        assert forbidden.json()["detail"] in (
            "Cette mission est confiée à un autre acteur.",
            "Seul l'acteur de la mission ou l'équipe du département peut la modifier.",
            "Cette mission relève d'un autre département.",
        )
        not_done = await service.client.post(
            f"/v1/missions/{mission}/milestones/{first}/done", headers=outsider
        )
        assert not_done.status_code == 403

    assert await rows(service.database_url, ours) == before
    accepted_png = await service.client.post(
        upload_url(mission, first, "plan.png"), content=sample_files.png(), headers=CAUE
    )
    assert accepted_png.json()["content_type"] == PNG


async def test_the_team_hands_a_leaving_agents_missions_to_a_colleague(
    service: RunningService,
) -> None:
    first = await accepted_mission(service, agent="Paul Durand")
    second = await accepted_mission(service, agent="Paul Durand")
    other = await accepted_mission(service, agent="Léa Roux")
    ours = [await demande_of(service, m) for m in (first, second, other)]
    before = await rows(service.database_url, ours)
    body = {"from_agent": "Paul Durand", "to_agent": "Léa Roux", "reason": "Départ"}
    refused = await service.client.post(
        "/v1/actors/t49-mission-caue/handover", json=body, headers=CAUE
    )
    assert refused.status_code == 403
    done = await service.client.post(
        "/v1/actors/t49-mission-caue/handover", json=body, headers=TEAM
    )
    assert done.status_code == 200, done.text
    assert sorted(done.json()["reassigned"]) == sorted([first, second])
    after = await rows(service.database_url, ours)
    assert after["mission_handovers"] == before["mission_handovers"] + 2
    assert after["outbox"] == before["outbox"] + 2
    async with service.runtime.session_factory() as session:
        agents = dict((await session.execute(select(assignments.c.id, assignments.c.agent))).all())
    assert {str(k): v for k, v in agents.items() if str(k) in (first, second, other)} == {
        first: "Léa Roux",
        second: "Léa Roux",
        other: "Léa Roux",
    }
    [handover] = (await plan(service, first, ANGERS))["handovers"]
    assert (handover["from_agent"], handover["to_agent"]) == ("Paul Durand", "Léa Roux")


async def test_the_demo_s_actor_delivers_every_milestone_of_a_mission(
    service: RunningService,
) -> None:
    mission = await accepted_mission(service)
    course = MissionCourse()
    await deliver_milestones(
        service.client,
        AuthSettings(),
        departement="49",
        actor_id="t49-mission-caue",
        assignment_id=mission,
        title="Place du marché (tranche 1)",
        course=course,
    )
    seen = await plan(service, mission, ANGERS)
    assert [m["status"] for m in seen["milestones"]] == ["done"] * 3
    assert [len(m["deliverables"]) for m in seen["milestones"]] == [1] * 3
    assert (course.milestones_done, course.deliverables) == (3, 3)
    assert course.deliverable_bytes == sum(
        d["size"] for m in seen["milestones"] for d in m["deliverables"]
    )
