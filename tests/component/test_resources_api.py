"""The resources service with its real database and broker: HTTP API, outbox, and the
consumer that drafts a retour d'expérience when matching closes a mission."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from services.resources import bootstrap
from services.resources.adapters.orm import experiences, surveys
from services.resources.adapters.unit_of_work import ResourcesUnitOfWork
from services.resources.service_layer import surveys as survey_cases
from shared.auth.tokens import Role
from shared.contracts.export import schema_path
from shared.contracts.resources import SurveyDue
from shared.contracts.topics import MATCHING_ASSIGNMENT, RESOURCES_SHEET, RESOURCES_TRAINING
from shared.messaging.tables import OUTBOX
from shared.settings import KafkaSettings
from tests.component.resources_setup import resources_service
from tests.support.events import as_record, assignment_completed
from tests.support.kafka_tap import TopicTap, publish_raw
from tests.support.services import RunningService
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TEAM_49 = bearer(Role.DEPARTEMENT, "49")
TEAM_44 = bearer(Role.DEPARTEMENT, "44")
ARMAILLE = bearer(Role.COLLECTIVITE, "49", "49010")
CAUE = bearer(Role.ACTOR, "49", "caue-49")


service = resources_service

SHEET: dict[str, Any] = {
    "title": "L'assainissement non collectif dans les petites communes",
    "summary": "Le SPANC et les aides à la réhabilitation des installations individuelles.",
    "body": "## Le SPANC\n\nContrôle des installations <b>individuelles</b>…",
    "kind": "guide",
    "themes": ["eau_assainissement"],
    "phases": ["faisabilite"],
    "links": ["https://www.ecologie.gouv.fr/assainissement-non-collectif"],
    "review_on": "2026-01-31",
}


def validate(event_type: str, payload: dict[str, Any]) -> None:
    schema = json.loads(schema_path(event_type).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(payload)


async def test_a_team_publishes_a_sheet_everyone_of_its_departement_finds(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    async with TopicTap(kafka_topics, RESOURCES_SHEET.name) as tap:
        created = await service.client.post("/v1/sheets", json=SHEET, headers=TEAM_49)
        assert created.status_code == 201, created.text
        sheet = created.json()
        records = await tap.collect(
            lambda rs: any(r.json().get("sheet_id") == sheet["id"] for r in rs)
        )
    [record] = [r for r in records if r.json().get("sheet_id") == sheet["id"]]
    assert record.key == b"49"
    assert record.headers["ce_type"] == "resources.sheet.published.v1"
    validate("resources.sheet.published.v1", record.json())
    assert "body" not in record.json()
    # Its review date has passed: « à revoir ».
    assert sheet["to_review"] is True
    assert (
        await service.client.post("/v1/sheets", json=SHEET, headers=ARMAILLE)
    ).status_code == 403

    found = await service.client.get(
        "/v1/search", params={"q": "Assainissements individuels"}, headers=ARMAILLE
    )
    assert found.status_code == 200, found.text
    [hit] = found.json()["items"]
    assert hit["id"] == sheet["id"]
    assert "<mark>" in hit["headline"]
    # The body's own markup is escaped: <mark> is the only tag of a highlight.
    assert "<b>" not in hit["headline"]
    assert (await service.client.get("/v1/search", params={"q": "spanc"}, headers=TEAM_44)).json()[
        "items"
    ] == []
    other = await service.client.get(
        "/v1/search", params={"q": "spanc", "departement": "44"}, headers=ARMAILLE
    )
    assert other.status_code == 403
    assert other.json()


@pytest.mark.parametrize(
    "q", ['"non collectif', "a & b | !c", "'; DROP TABLE sheets; --", "-", "((:*", "or"]
)
async def test_odd_searches_answer_200(service: RunningService, q: str) -> None:
    found = await service.client.get("/v1/search", params={"q": q}, headers=ARMAILLE)
    assert found.status_code == 200, found.text


async def test_registrations_over_http(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    starts = datetime.now(UTC) + timedelta(days=20)
    offered = await service.client.post(
        "/v1/trainings",
        json={
            "title": "Réhabiliter son assainissement",
            "themes": ["eau_assainissement"],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=3)).isoformat(),
            "place": "Angers",
            "seats": 2,
            "audience": ["elus"],
            "price_member": "0",
            "price_non_member": "50.00",
        },
        headers=CAUE,
    )
    assert offered.status_code == 201, offered.text
    session_id = offered.json()["id"]
    async with TopicTap(kafka_topics, RESOURCES_TRAINING.name) as tap:
        answers = await asyncio.gather(
            *(
                service.client.post(
                    f"/v1/trainings/{session_id}/registrations",
                    json={"participants": [f"Élu {i}"]},
                    headers=ARMAILLE,
                )
                for i in range(4)
            )
        )
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
        statuses = sorted(a.json()["status"] for a in answers)
        assert statuses == ["registered", "registered", "waiting", "waiting"]
        first = min(answers, key=lambda a: a.json()["position"]).json()
        head = sorted(
            (a.json() for a in answers if a.json()["status"] == "waiting"),
            key=lambda r: r["position"],
        )[0]
        cancelled = await service.client.post(
            f"/v1/trainings/registrations/{first['id']}/cancel", headers=ARMAILLE
        )
        assert [r["id"] for r in cancelled.json()] == [head["id"]]
        records = await tap.collect(
            lambda rs: sum(r.json().get("session_id") == session_id for r in rs) >= 6
        )
    types = [r.headers["ce_type"] for r in records if r.json().get("session_id") == session_id]
    assert types.count("resources.registration.recorded.v1") == 4
    assert "resources.registration.promoted.v1" in types
    for record in records:
        if record.json().get("session_id") == session_id:
            validate(record.headers["ce_type"], record.json())
            assert "Élu" not in json.dumps(record.json())
    detail = await service.client.get(f"/v1/trainings/{session_id}", headers=TEAM_49)
    assert detail.json()["session"]["seats_taken"] == 2


async def test_a_closed_mission_becomes_a_searchable_experience_once_consented(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    completed = assignment_completed(requester_code="49010", actor_id="caue-49")
    _, record = as_record(completed)
    await publish_raw(kafka_topics, MATCHING_ASSIGNMENT.name, [record, record])
    experience_id = None
    for _ in range(150):
        async with service.runtime.session_factory() as session:
            rows = (
                await session.execute(
                    select(experiences.c.id).where(
                        experiences.c.assignment_id == completed.assignment_id
                    )
                )
            ).all()
        if rows:
            [(experience_id,)] = rows
            break
        await asyncio.sleep(0.1)
    assert experience_id is not None, "no experience drafted"
    written = await service.client.put(
        f"/v1/experiences/{experience_id}",
        json={
            "title": "Une salle des fêtes rénovée pour une petite commune",
            "what_was_done": "Diagnostic énergétique puis programme de travaux phasé.",
            "cost": "15000.00",
        },
        headers=CAUE,
    )
    assert written.status_code == 200, written.text
    query = {"q": "salle des fetes", "commune_size": "moins_de_500"}
    assert (await service.client.get("/v1/search", params=query, headers=TEAM_49)).json()[
        "items"
    ] == []
    consent = await service.client.post(
        f"/v1/experiences/{experience_id}/consent", json={"given": True}, headers=ARMAILLE
    )
    assert consent.json()["status"] == "published"
    found = (await service.client.get("/v1/search", params=query, headers=TEAM_49)).json()
    assert [h["id"] for h in found["items"]] == [str(experience_id)]
    assert found["items"][0]["commune_population"] == 314


async def test_suggestions_for_a_need_with_their_reasons(service: RunningService) -> None:
    # The sheet and the training of the tests above fit a water need of a small commune.
    found = await service.client.get(
        "/v1/suggestions",
        params={
            "departement": "49",
            "themes": ["eau_assainissement"],
            "phase": "faisabilite",
            "population": 300,
        },
        headers=ARMAILLE,
    )
    assert found.status_code == 200, found.text
    suggestions = found.json()
    assert suggestions[0]["kind"] == "sheet"
    assert suggestions[0]["reason"] == (
        "Même thème (Eau et assainissement), même phase (Faisabilité / programmation)."
    )
    trainings = [s for s in suggestions if s["kind"] == "training"]
    assert trainings and trainings[0]["reason"].startswith("Même thème (Eau et assainissement)")
    assert "session du" in trainings[0]["reason"]
    other = await service.client.get(
        "/v1/suggestions",
        params={"departement": "49", "themes": ["eau_assainissement"]},
        headers=TEAM_44,
    )
    assert other.status_code == 403


async def test_a_survey_link_works_once_without_sign_in(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    completed = assignment_completed(requester_code="49010", actor_id="satese-49")
    await publish_raw(kafka_topics, MATCHING_ASSIGNMENT.name, [as_record(completed)[1]])
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        async with service.runtime.session_factory() as session:
            found = (
                await session.execute(
                    select(surveys.c.id).where(surveys.c.assignment_id == completed.assignment_id)
                )
            ).one_or_none()
        if found is not None:
            break
        assert asyncio.get_running_loop().time() < deadline, "no survey scheduled"
        await asyncio.sleep(0.1)
    secret = bootstrap.survey_secret()
    uow = ResourcesUnitOfWork(service.runtime.session_factory, "resources")
    async with uow:
        assert (
            await survey_cases.send_due(uow, secret, completed.completed_at + timedelta(days=10))
            >= 1
        )
        dues = await uow.session.execute(
            select(OUTBOX.c.payload).where(OUTBOX.c.event_type == SurveyDue.event_type)
        )
        [link] = [
            json.loads(r.payload)["link_path"]
            for r in dues.all()
            if str(found.id).encode() in r.payload
        ]
    page = await service.client.get(link)
    assert page.status_code == 200 and "Votre avis" in page.text
    answer = {"quality": 4, "delay": 5, "usefulness": 4, "would_recommend": True}
    first = await service.client.post(link, json=answer)
    assert first.status_code == 200 and "enregistrée" in first.text
    again = await service.client.post(link, json=answer | {"quality": 1})
    assert again.status_code == 409 and "déjà" in again.text
    forged = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert (await service.client.get(forged)).status_code == 410
    assert (await service.client.post(forged, json=answer)).status_code == 410
    results = await service.client.get(
        "/v1/surveys/results", params={"departement": "49"}, headers=TEAM_49
    )
    [satese] = [a for a in results.json()["by_actor"] if a["answers"] and a["quality"] == "4.0"]
    assert satese["answers"] == 1
