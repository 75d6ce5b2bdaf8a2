"""The requests service with its real database and broker: HTTP API, outbox, command consumer."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime

import jsonschema
import pytest
from sqlalchemy import func, select

from services.requests.adapters.orm import demandes
from shared.auth.tokens import Role
from shared.contracts.export import schema_path
from shared.contracts.topics import REQUESTS_COMMAND, REQUESTS_REQUEST
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.support import submissions
from tests.support.events import kafka_headers
from tests.support.kafka_tap import TopicTap
from tests.support.services import RunningService, service_fixture
from tests.support.submissions import demande_body
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TEAM_49 = bearer(Role.DEPARTEMENT, "49")
ANGERS = bearer(Role.COLLECTIVITE, "49", "49007")


service = service_fixture("service", "requests")


async def count_rows(service: RunningService) -> int:
    async with service.runtime.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(demandes))).scalar_one())


def schema_validator(event_type: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path(event_type).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


async def test_submitted_demande_is_stored_and_published_as_a_cloudevent(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    async with TopicTap(kafka_topics, REQUESTS_REQUEST.name) as tap:
        response = await service.client.post(
            "/v1/requests",
            json=demande_body(),
            headers=ANGERS | {"X-Correlation-ID": "corr-42"},
        )
        assert response.status_code == 201, response.text
        created = response.json()
        records = await tap.collect(
            lambda rs: any(r.json().get("request_id") == created["id"] for r in rs)
        )
    [record] = [r for r in records if r.json().get("request_id") == created["id"]]
    assert record.key == b"49"
    headers = record.headers
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "requests.request.submitted.v2"
    assert headers["ce_source"] == "requests"
    assert headers["content-type"] == "application/json"
    assert headers["departement"] == "49"
    assert headers["correlation_id"] == "corr-42"
    uuid.UUID(headers["ce_id"])
    datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00"))
    payload = record.json()
    schema_validator("requests.request.submitted.v2").validate(payload)
    assert payload["requester"] == {
        "kind": "commune",
        "code": "49007",
        "name": "Angers",
        "population": created["requester_population"],
    }
    assert payload["estimated_budget"] == "180000.50"
    # The contact travels on the restricted requests.contact.v1 only (ADR 0020).
    assert "contact" not in payload and "@" not in record.value.decode()

    read = await service.client.get(f"/v1/requests/{created['id']}", headers=ANGERS)
    assert read.status_code == 200
    assert read.json()["status"] == "submitted"
    assert read.json()["status_label"] == "Reçue"


async def test_idempotency_key_gives_one_demande_and_one_event(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    key = str(uuid.uuid4())
    async with TopicTap(kafka_topics, REQUESTS_REQUEST.name) as tap:
        first = await service.client.post(
            "/v1/requests",
            json=demande_body(),
            headers=TEAM_49 | {"Idempotency-Key": key},
        )
        second = await service.client.post(
            "/v1/requests",
            json=demande_body(),
            headers=TEAM_49 | {"Idempotency-Key": key},
        )
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["id"] == second.json()["id"] == key
        records = await tap.collect(
            lambda rs: any(r.json().get("request_id") == key for r in rs), settle=1.5
        )
    assert len([r for r in records if r.json().get("request_id") == key]) == 1
    assert await count_rows(service) == 1


async def test_list_filters_and_paginates_within_scope(service: RunningService) -> None:
    for code, themes in (
        ("49007", ["energie"]),
        ("49007", ["urbanisme"]),
        ("49015", ["energie"]),
        ("244900015", ["mobilite"]),
    ):
        response = await service.client.post(
            "/v1/requests",
            json=demande_body(requester_code=code, themes=themes),
            headers=TEAM_49,
        )
        assert response.status_code == 201, response.text

    page = (await service.client.get("/v1/requests?limit=3", headers=TEAM_49)).json()
    assert (page["total"], len(page["items"])) == (4, 3)
    page2 = (await service.client.get("/v1/requests?limit=3&offset=3", headers=TEAM_49)).json()
    assert len(page2["items"]) == 1
    ids = {i["id"] for i in page["items"]} | {i["id"] for i in page2["items"]}
    assert len(ids) == 4

    energie = (await service.client.get("/v1/requests?theme=energie", headers=TEAM_49)).json()
    assert {i["requester_code"] for i in energie["items"]} == {"49007", "49015"}
    commune = (await service.client.get("/v1/requests?commune=49015", headers=TEAM_49)).json()
    assert commune["total"] == 1
    mine = (await service.client.get("/v1/requests", headers=ANGERS)).json()
    assert mine["total"] == 2
    # The status filter, on a status that only this test gives: withdrawn.
    first = page["items"][0]["id"]
    await service.client.post(f"/v1/requests/{first}/withdraw", json={}, headers=TEAM_49)
    withdrawn = (await service.client.get("/v1/requests?status=withdrawn", headers=TEAM_49)).json()
    assert [i["id"] for i in withdrawn["items"]] == [first]
    bad = await service.client.get("/v1/requests?status=perdu", headers=TEAM_49)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"


async def test_withdrawal_is_published_and_final(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    created = (
        await service.client.post("/v1/requests", json=demande_body(), headers=ANGERS)
    ).json()
    async with TopicTap(kafka_topics, REQUESTS_REQUEST.name) as tap:
        response = await service.client.post(
            f"/v1/requests/{created['id']}/withdraw",
            json={"reason": "Projet reporté"},
            headers=ANGERS,
        )
        assert response.status_code == 200
        assert response.json()["status"] == "withdrawn"
        records = await tap.collect(
            lambda rs: any(r.headers["ce_type"].endswith("withdrawn.v1") for r in rs)
        )
    # The submitted event may land after the tap opened too: look at the withdrawals only.
    withdrawn = [
        r
        for r in records
        if r.json().get("request_id") == created["id"]
        and r.headers["ce_type"].endswith("withdrawn.v1")
    ]
    assert len(withdrawn) == 1
    schema_validator("requests.request.withdrawn.v1").validate(withdrawn[0].json())


async def test_scopes_are_refused_with_a_french_message(service: RunningService) -> None:
    other_departement = bearer(Role.DEPARTEMENT, "44")
    response = await service.client.post(
        "/v1/requests", json=demande_body(), headers=other_departement
    )
    assert response.status_code == 422
    assert "n'appartient pas au département 44" in response.json()["errors"][0]["message"]

    other_commune = bearer(Role.COLLECTIVITE, "49", "49015")
    response = await service.client.post("/v1/requests", json=demande_body(), headers=other_commune)
    assert response.status_code == 403
    assert "votre collectivité" in response.json()["detail"]

    created = (
        await service.client.post("/v1/requests", json=demande_body(), headers=ANGERS)
    ).json()
    for outsider in (other_commune, other_departement, bearer(Role.ACTOR, "49", "caue-49")):
        response = await service.client.get(f"/v1/requests/{created['id']}", headers=outsider)
        assert response.status_code == 403
    assert (await service.client.get(f"/v1/requests/{created['id']}")).status_code == 401
    assert (
        await service.client.get(
            f"/v1/requests/{created['id']}", headers={"Authorization": "Bearer forged"}
        )
    ).status_code == 401
    assert await count_rows(service) == 1


async def test_a_command_event_creates_a_demande_in_the_same_flow(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    envelope, value = submissions.command("49")
    request_id = json.loads(value)["request_id"]
    async with TopicTap(kafka_topics, REQUESTS_REQUEST.name) as tap:
        await submissions.publish_commands(
            kafka_topics, [submissions.command_record(envelope, value)] * 2
        )
        records = await tap.collect(
            lambda rs: any(r.json().get("request_id") == request_id for r in rs), settle=1.5
        )
    mine = [r for r in records if r.json().get("request_id") == request_id]
    assert len(mine) == 1, "the command was delivered twice but must create one demande"
    assert mine[0].headers["causation_id"] == envelope.id
    assert mine[0].headers["correlation_id"] == envelope.correlation_id
    assert mine[0].json()["channel"] == "event"
    read = await service.client.get(f"/v1/requests/{request_id}", headers=TEAM_49)
    assert read.status_code == 200


async def test_a_bad_command_is_dead_lettered_with_its_reason_and_nothing_is_written(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    foreign, foreign_value = submissions.command("49", requester_code="75056")
    unknown_type = Envelope(type="requests.command.teleport.v1", source="x", departement="49")
    broken = Envelope(type="requests.command.submit-request.v1", source="x", departement="49")
    latin1, latin1_value = submissions.command("49")
    latin1_headers = kafka_headers(latin1)
    latin1_headers.append(("x-origine", "préfecture".encode("latin-1")))
    good, good_value = submissions.command("49")
    async with submissions.command_outcomes(kafka_topics) as (dead, out):
        await submissions.publish_commands(
            kafka_topics,
            [
                submissions.command_record(foreign, foreign_value),
                submissions.command_record(unknown_type, b"{}"),
                submissions.command_record(broken, b"{not json"),
                # Not UTF-8: FastStream alone would redeliver it forever and block the partition.
                (b"49", latin1_value, latin1_headers),
                submissions.command_record(good, good_value),
            ],
        )
        good_id = json.loads(good_value)["request_id"]
        await out.collect(lambda rs: any(r.json().get("request_id") == good_id for r in rs))
        letters = await dead.collect(
            lambda rs: {foreign.id, broken.id, latin1.id} <= {r.headers.get("ce_id") for r in rs},
            settle=1.0,
        )
    mine = [r for r in letters if r.headers.get("ce_id") == foreign.id]
    assert len(mine) == 1
    assert mine[0].headers["dlq_reason"] == "invalid_command"
    # Headers are ASCII: the French reason keeps its accents as escapes.
    assert "appartient pas au d\\xe9partement 49" in mine[0].headers["dlq_error"]
    assert mine[0].value == foreign_value
    [broken_letter] = [r for r in letters if r.headers.get("ce_id") == broken.id]
    assert broken_letter.headers["dlq_reason"] == "invalid_payload"
    assert broken_letter.value == b"{not json"
    [latin1_letter] = [r for r in letters if r.headers.get("ce_id") == latin1.id]
    assert latin1_letter.headers["dlq_reason"] == "invalid_envelope"
    assert "not ASCII" in latin1_letter.headers["dlq_error"]
    assert mine[0].headers["dlq_original_topic"] == REQUESTS_COMMAND.name
    assert {"dlq_original_partition", "dlq_original_offset", "dlq_attempts"} <= mine[
        0
    ].headers.keys()
    assert not any(r.headers.get("ce_id") == unknown_type.id for r in letters)
    assert await count_rows(service) == 1


async def test_health_and_metrics_are_served(service: RunningService) -> None:
    ready = await service.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": True, "broker": True}
    await service.client.post("/v1/requests", json=demande_body(), headers=ANGERS)
    await asyncio.sleep(0.5)
    metrics = (await service.client.get("/metrics/")).text
    assert "mg_http_requests_total" in metrics
    assert "mg_outbox_backlog" in metrics
    openapi = (await service.client.get("/openapi.json")).json()
    assert "/v1/requests" in openapi["paths"]


async def test_control_characters_in_the_query_or_the_path_are_refused_in_french(
    service: RunningService,
) -> None:
    # The fuzz test's find: a NUL byte in a query parameter reached PostgreSQL (500).
    nul = await service.client.get(
        "/v1/requests?commune=PIx%C2%BE%00%C2%8C%0D&departement=49", headers=TEAM_49
    )
    assert nul.status_code == 422, nul.text
    assert nul.json()["errors"] == [
        {"field": "commune", "message": "Caractères de contrôle interdits."}
    ]
    in_path = await service.client.get("/v1/requests/ab%00cd", headers=TEAM_49)
    assert in_path.status_code == 422, in_path.text
    assert in_path.json()["errors"][0]["field"] == "chemin"
    # Printable text, accents included, still reaches the route.
    fine = await service.client.get("/v1/requests?commune=%C3%89t%C3%A9%C3%A9s", headers=TEAM_49)
    assert fine.status_code == 200, fine.text
