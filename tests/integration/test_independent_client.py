"""A client the project did not write — Kafka's own console consumer, from the broker's
jars — reads a submitted demande with its CloudEvents headers, and its body validates
against the checked-in JSON Schema."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from shared.auth.tokens import Role
from shared.contracts.export import schema_path
from shared.contracts.topics import REQUESTS_REQUEST
from shared.settings import KafkaSettings
from tests.support.kafka_tap import TopicTap
from tests.support.services import RunningService, service_fixture
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CONSOLE_CONSUMER = Path(__file__).resolve().parents[2] / "infra" / "kafka" / "console-consumer.sh"


requests_service = service_fixture("requests_service", "requests")


async def test_kafka_console_consumer_reads_a_cloudevent_that_matches_the_schema(
    requests_service: RunningService, kafka_topics: KafkaSettings
) -> None:
    start = datetime.now(UTC).date() + timedelta(days=40)
    body = {
        "requester_code": "2A004",
        "contact": {"name": "Paul Santoni", "email": "paul.santoni@example.fr"},
        "title": "Schéma directeur d'assainissement",
        "description": "Diagnostic des réseaux et programme pluriannuel de travaux.",
        "themes": ["eau_assainissement"],
        "phase": "idee",
        "estimated_budget": "95000",
        "wished_start": start.isoformat(),
    }
    async with TopicTap(kafka_topics, REQUESTS_REQUEST.name) as tap:
        response = await requests_service.client.post(
            "/v1/requests", json=body, headers=bearer(Role.DEPARTEMENT, "2A")
        )
        assert response.status_code == 201, response.text
        request_id = response.json()["id"]
        [record] = [
            r
            for r in await tap.collect(
                lambda rs: any(r.json().get("request_id") == request_id for r in rs)
            )
            if r.json().get("request_id") == request_id
        ]

    port = kafka_topics.bootstrap_servers.rsplit(":", 1)[1]
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_CONSUMER),
        REQUESTS_REQUEST.name,
        "--partition",
        str(record.partition),
        "--offset",
        str(record.offset),
        "--max-messages",
        "1",
        "--timeout-ms",
        "30000",
        env={**os.environ, "KAFKA_PORT": port},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, err.decode()
    [line] = [line for line in out.decode().splitlines() if line.strip()]
    headers_text, key, value = line.split("\t", 2)
    headers = dict(item.split(":", 1) for item in headers_text.split(","))

    assert key == "2A"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "requests.request.submitted.v2"
    assert headers["ce_source"] == "requests"
    assert headers["ce_id"] == record.headers["ce_id"]
    assert headers["content-type"] == "application/json"
    assert headers["departement"] == "2A"
    datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00"))
    payload = json.loads(value)
    schema = json.loads(schema_path("requests.request.submitted.v2").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        payload
    )
    assert payload["request_id"] == request_id
    assert payload["requester"]["name"] == "Ajaccio"
