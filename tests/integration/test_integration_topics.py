"""What other départements see, on the real broker (ADR 0020).

- A demande's flow leaves no email address on any shared topic (every topic but the
  restricted contact topic and the dead letters, raw bytes of keys, values and headers);
  its contact travels on ``requests.contact.v1`` only, keyed by contact id, and the
  notifications service still writes to that address.
- The projection writes each shared event of a served département to its
  ``dept.<code>.events.v1``, once, with the original key, ``ce_id`` and ``ce_type``.
- A command on ``dept.35.commands.v1`` is processed as 35's or dead-lettered with its
  reason, never as the département its header or body claims.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from services.requests.adapters.orm import demandes
from shared.auth.tokens import Role
from shared.contracts.topics import (
    REQUESTS_CONTACT,
    REQUESTS_REQUEST,
    all_topic_names,
    dead_letter_topic,
    departement_commands,
    departement_events,
)
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.component.notification_demandes import notifications_service, settings_for
from tests.support.events import kafka_headers
from tests.support.kafka_tap import Record, TopicTap, publish_raw
from tests.support.kcat import kcat, kcat_config
from tests.support.services import RunningService, running_service
from tests.support.smtp_server import SmtpSink, smtp_sink
from tests.support.submissions import demande_body
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ANGERS = bearer(Role.COLLECTIVITE, "49", "49007")
SHARED_TOPICS = [
    name
    for name in all_topic_names()
    if not name.endswith(".dlq")
    and name != REQUESTS_CONTACT.name
    # Commands are written by a département's own system and read by requests alone.
    and not name.endswith(".commands.v1")
    and name != "requests.command.v1"
]


def raw_bytes(record: Record) -> bytes:
    headers = b"".join(k.encode() + v.encode() for k, v in record.headers.items())
    return (record.key or b"") + record.value + headers


async def kcat_read(kafka: KafkaSettings, record: Record, tmp: Path) -> tuple[bytes, str, bytes]:
    """One record read by kcat as département 49's system (docs/integration.md): its key,
    ``ce_id`` header and value."""
    config = kcat_config(kafka, departement_commands("49").writer, tmp)
    code, out, err = await kcat(
        kafka,
        config,
        *("-C", "-t", record.topic, "-p", str(record.partition), "-o", str(record.offset)),
        *("-c", "1", "-e", "-f", "%k\t%h\t%s"),
    )
    assert code == 0, err
    key, headers, value = out.split(b"\t", 2)
    found = dict(h.split("=", 1) for h in headers.decode().split(","))
    return key, found["ce_id"], value


@pytest.fixture
async def requests_and_notifications(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[tuple[RunningService, RunningService, SmtpSink]]:
    with smtp_sink() as smtp:
        async with (
            running_service("requests", fresh_database, kafka_topics) as requests,
            notifications_service(fresh_database, kafka_topics, settings_for(smtp)) as notifs,
        ):
            yield requests, notifs, smtp


async def test_a_flow_leaves_no_email_on_the_shared_topics_and_reaches_the_integration_topic(
    requests_and_notifications: tuple[RunningService, RunningService, SmtpSink],
    kafka_topics: KafkaSettings,
    tmp_path: Path,
) -> None:
    requests, _, smtp = requests_and_notifications
    email = f"marie.{uuid.uuid4().hex[:10]}@example.fr"
    async with AsyncExitStack() as stack:
        taps = {
            name: await stack.enter_async_context(TopicTap(kafka_topics, name))
            for name in [*SHARED_TOPICS, REQUESTS_CONTACT.name]
        }
        response = await requests.client.post(
            "/v1/requests",
            json=demande_body(contact={"name": "Marie Dupont", "email": email}),
            headers=ANGERS,
        )
        assert response.status_code == 201, response.text
        request_id = response.json()["id"]
        # The notifications service wrote to the address it had only from the contact topic.
        await smtp.wait_for(lambda: smtp.to(email) != [], timeout=60)

        def ours(records: list[Record], ce_type: str) -> list[Record]:
            return [
                r
                for r in records
                if request_id.encode() in r.value and r.headers.get("ce_type") == ce_type
            ]

        submitted_type, contact_type = (
            "requests.request.submitted.v2",
            "requests.contact.recorded.v1",
        )
        [submitted] = ours(
            await taps[REQUESTS_REQUEST.name].collect(
                lambda rs: ours(rs, submitted_type) != [], timeout=30
            ),
            submitted_type,
        )
        flow = submitted.headers["correlation_id"]
        projected = await taps[departement_events("49").name].collect(
            lambda rs: any(r.headers.get("ce_id") == submitted.headers["ce_id"] for r in rs),
            timeout=60,
        )
        [contact] = ours(
            await taps[REQUESTS_CONTACT.name].collect(
                lambda rs: ours(rs, contact_type) != [], timeout=30
            ),
            contact_type,
        )
        # The delivery's outcome, then every record written meanwhile, in the taps.
        await taps["notifications.delivery.v1"].collect(
            lambda rs: any(r.headers.get("correlation_id") == flow for r in rs), timeout=30
        )
        for tap in taps.values():
            await tap.collect(lambda rs: True, timeout=10, settle=1.0)

    assert (
        contact.key
        == contact.json()["contact_id"].encode()
        == (submitted.json()["contact_id"].encode())
    )
    assert contact.json()["email"] == email

    [copy] = [r for r in projected if r.headers.get("ce_id") == submitted.headers["ce_id"]]
    assert (copy.key, copy.value) == (submitted.key, submitted.value) == (b"49", copy.value)
    assert copy.headers["ce_type"] == submitted.headers["ce_type"]
    assert copy.headers["original_topic"] == REQUESTS_REQUEST.name

    # A client we did not write reads it as a partner would, from a kcat configuration file.
    assert await kcat_read(kafka_topics, copy, tmp_path) == (
        b"49",
        submitted.headers["ce_id"],
        submitted.value,
    )

    dumped = [r for name in SHARED_TOPICS for r in taps[name].records]
    of_flow = [r for r in dumped if r.headers.get("correlation_id") == flow]
    # The demande, its project, the delivery, and their copies on dept.49.events.v1.
    assert {r.topic for r in of_flow} == {
        REQUESTS_REQUEST.name,
        "requests.project.v1",
        "notifications.delivery.v1",
        departement_events("49").name,
    }
    copies = [r for r in of_flow if r.topic == departement_events("49").name]
    assert len(copies) == len(of_flow) - len(copies)
    leaks = [(r.topic, m) for r in of_flow for m in EMAIL.findall(raw_bytes(r))]
    assert leaks == []
    # Whatever else ran on the shared broker meanwhile: our address is on none of its topics.
    assert [r.topic for r in dumped if email.encode() in raw_bytes(r)] == []


def command(
    departement_header: str, requester_code: str
) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    request_id = str(uuid.uuid4())
    envelope = Envelope(
        type="requests.command.submit-request.v1",
        source="sig-departement",
        departement=departement_header,
    )
    body = demande_body(request_id=request_id, requester_code=requester_code)
    return request_id, json.dumps(body).encode(), kafka_headers(envelope)


async def test_a_command_on_35s_topic_is_35s_or_refused_never_another_departements(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> None:
    topic = departement_commands("35").name
    claims_49, angers_49 = command("49", "49007"), command("35", "49007")
    rennes = command("35", "35238")
    # Claims 49 in its header, for a collectivité of 35: still not processed as 49's.
    header_only = command("49", "35238")
    async with (
        running_service("requests", fresh_database, kafka_topics) as requests,
        TopicTap(kafka_topics, dead_letter_topic(topic, "requests")) as dead,
        TopicTap(kafka_topics, REQUESTS_REQUEST.name) as out,
    ):
        await publish_raw(
            kafka_topics,
            topic,
            [
                (b"35", value, headers)
                for _, value, headers in (claims_49, angers_49, header_only, rennes)
            ],
        )
        ids = {r[0] for r in (claims_49, angers_49, header_only)}
        letters = await dead.collect(
            lambda rs: {json.loads(r.value)["request_id"] for r in rs} >= ids, timeout=60
        )
        accepted = await out.collect(
            lambda rs: any(rennes[0].encode() in r.value for r in rs), timeout=60
        )

    reasons = {
        json.loads(r.value)["request_id"]: r.headers["dlq_reason"]
        for r in letters
        if json.loads(r.value)["request_id"] in ids
    }
    assert reasons == {
        claims_49[0]: "departement_mismatch",
        header_only[0]: "departement_mismatch",
        # Angers is not a collectivité of 35: refused as over HTTP.
        angers_49[0]: "invalid_command",
    }
    [event] = [r for r in accepted if rennes[0].encode() in r.value]
    assert event.headers["departement"] == "35" == event.json()["departement"]

    engine = create_async_engine(requests.database_url)
    try:
        async with engine.connect() as conn:
            stored = dict((await conn.execute(select(demandes.c.id, demandes.c.departement))).all())
    finally:
        await engine.dispose()
    assert {str(k): v for k, v in stored.items()} == {rennes[0]: "35"}
