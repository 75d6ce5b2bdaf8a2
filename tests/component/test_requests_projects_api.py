"""Projects through the requests API, with the real database and broker: the next phase
opened by the lead actor once the mission is completed (as matching's events say), the
project's timeline, its events on ``requests.project.v1``, look-alike demandes flagged;
the next phase opened by a command event."""

from __future__ import annotations

import uuid

import pytest

from shared.auth.tokens import Role
from shared.contracts.requests import OpenNextPhaseCommand
from shared.contracts.topics import (
    MATCHING_MISSION,
    REQUESTS_COMMAND,
    REQUESTS_PROJECT,
    REQUESTS_REQUEST,
)
from shared.contracts.vocabulary import Phase
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.component.project_steps import (
    ANGERS,
    TEAM_49,
    body,
    complete_mission,
    deliverable_added,
    until_deliverable,
)
from tests.component.test_requests_api import count_rows, schema_validator
from tests.support.events import as_record
from tests.support.kafka_tap import TopicTap, publish_raw
from tests.support.services import RunningService, service_fixture
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


service = service_fixture("service", "requests")


async def test_the_lead_actor_opens_the_next_phase_and_the_project_keeps_its_timeline(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    async with TopicTap(kafka_topics, REQUESTS_PROJECT.name) as tap:
        first = (await service.client.post("/v1/requests", json=body(), headers=ANGERS)).json()
        project_id = first["project_id"]
        early = await service.client.post(f"/v1/requests/{first['id']}/next-phase", headers=TEAM_49)
        assert early.status_code == 409, early.text
        assert "terminée" in early.json()["detail"]
        assert await count_rows(service) == 1
        await complete_mission(service, kafka_topics, first["id"], "atd49")
        outsider = bearer(Role.ACTOR, "49", "caue49")
        refused = await service.client.post(
            f"/v1/requests/{first['id']}/next-phase", headers=outsider
        )
        assert refused.status_code == 403 and await count_rows(service) == 1
        # The mission's deliverable, as matching announces it: carried to the next phase.
        report = f"https://matching.example.fr/v1/deliverables/{uuid.uuid4()}/content"
        await publish_raw(
            kafka_topics,
            MATCHING_MISSION.name,
            [as_record(deliverable_added(first["id"], report))[1]],
        )
        await until_deliverable(service, first["id"], report)
        key = str(uuid.uuid4())
        lead = bearer(Role.ACTOR, "49", "atd49")
        opened = await service.client.post(
            f"/v1/requests/{first['id']}/next-phase",
            json={"deliverables": ["livrable:etude-faisabilite.pdf"]},
            headers=lead | {"Idempotency-Key": key},
        )
        assert opened.status_code == 201, opened.text
        again = await service.client.post(
            f"/v1/requests/{first['id']}/next-phase", headers=lead | {"Idempotency-Key": key}
        )
        assert again.status_code == 200 and again.json()["id"] == opened.json()["id"] == key
        second = opened.json()
        assert (second["project_id"], second["phase"], second["phase_number"]) == (
            project_id,
            "conception",
            2,
        )
        assert second["carried_deliverables"] == [report, "livrable:etude-faisabilite.pdf"]
        records = await tap.collect(
            lambda rs: sum(r.json().get("project_id") == project_id for r in rs) >= 3
        )
    mine = [r for r in records if r.json().get("project_id") == project_id]
    assert [(r.headers["ce_type"].split(".")[2], r.json()["les_communs_status"]) for r in mine] == [
        ("phase_opened", "En cours"),
        ("phase_closed", "Terminé"),
        ("phase_opened", "En cours"),
    ]
    for record in mine:
        assert record.key == b"49"
        schema_validator(record.headers["ce_type"]).validate(record.json())
    timeline = await service.client.get(f"/v1/projects/{project_id}", headers=ANGERS)
    assert timeline.status_code == 200, timeline.text
    view = timeline.json()
    assert [(p["phase"], p["les_communs_phase"], p["lead_actors"]) for p in view["phases"]] == [
        ("faisabilite", "Étude", ["ATD49"]),
        ("conception", "Étude", []),
    ]
    assert (view["les_communs_phase"], view["les_communs_status"]) == ("Étude", "En cours")
    other = bearer(Role.COLLECTIVITE, "49", "49015")
    assert (
        await service.client.get(f"/v1/projects/{project_id}", headers=other)
    ).status_code == 403
    missing = await service.client.get(f"/v1/projects/{uuid.uuid4()}", headers=TEAM_49)
    assert missing.status_code == 404


async def test_a_look_alike_demande_is_stored_flagged_and_announced(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    title = f"Rénovation énergétique de l'école Jules Ferry {uuid.uuid4().hex[:6]}"
    async with TopicTap(kafka_topics, REQUESTS_PROJECT.name) as tap:
        original = await service.client.post("/v1/requests", json=body(title=title), headers=ANGERS)
        twin = await service.client.post(
            "/v1/requests", json=body(title=title.replace("de l'école", "- école")), headers=ANGERS
        )
        assert twin.status_code == 201, twin.text
        records = await tap.collect(
            lambda rs: (
                any(r.json().get("demande_id") == twin.json()["id"] for r in rs)
                and any(r.headers["ce_type"].endswith("duplicate_suspected.v1") for r in rs)
            )
        )
    assert twin.json()["suspected_duplicate_of"] == [original.json()["id"]]
    [flag] = [r for r in records if r.headers["ce_type"].endswith("duplicate_suspected.v1")]
    schema_validator(flag.headers["ce_type"]).validate(flag.json())
    assert [c["demande_id"] for c in flag.json()["candidates"]] == [original.json()["id"]]
    assert await count_rows(service) == 2


async def test_a_departement_system_opens_the_next_phase_by_command(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    first = (await service.client.post("/v1/requests", json=body(), headers=ANGERS)).json()
    await complete_mission(service, kafka_topics, first["id"], "atd49")
    new_id = str(uuid.uuid4())
    envelope = Envelope(
        type=OpenNextPhaseCommand.event_type, source="sig-departement", departement="49"
    )
    command = OpenNextPhaseCommand(
        request_id=uuid.UUID(first["id"]),
        new_request_id=uuid.UUID(new_id),
        phase=Phase.TRAVAUX,
        deliverables=["livrable:programme.pdf"],
    )
    _, record = as_record(command, envelope)
    async with TopicTap(kafka_topics, REQUESTS_REQUEST.name) as tap:
        # Sent twice: one next phase.
        await publish_raw(kafka_topics, REQUESTS_COMMAND.name, [record, record])
        records = await tap.collect(
            lambda rs: any(r.json().get("request_id") == new_id for r in rs), settle=1.5
        )
    mine = [r for r in records if r.json().get("request_id") == new_id]
    assert len(mine) == 1
    assert mine[0].headers["causation_id"] == envelope.id
    assert (mine[0].json()["channel"], mine[0].json()["phase"]) == ("event", "travaux")
    read = (await service.client.get(f"/v1/requests/{new_id}", headers=TEAM_49)).json()
    assert (read["project_id"], read["previous_demande_id"]) == (first["project_id"], first["id"])
    assert read["carried_deliverables"] == ["livrable:programme.pdf"]
    assert await count_rows(service) == 2
