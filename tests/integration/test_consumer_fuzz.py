"""Every consumer of every service, fed corrupted Kafka records: broken JSON, wrong
shapes, missing or non-ASCII headers, unknown and future types, huge bodies.

Each service must stay up, dead-letter every bad record with its reason, skip what it
does not know, and still process the good record published behind the bad ones.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shared.contracts.base import EventPayload
from shared.contracts.conventions import ConventionExpired
from shared.contracts.topics import BILLING_CONVENTION, TOPICS, dead_letter_topic
from shared.messaging.envelope import Envelope
from shared.messaging.tables import PROCESSED_EVENTS
from shared.settings import KafkaSettings
from tests.support import events
from tests.support.kafka_tap import TopicTap, publish_raw
from tests.support.services import running_service
from tests.unit.report_events import activity_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

Raw = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def good_event(topic: str, service: str) -> EventPayload:
    """A valid event of a type the consumers of ``topic`` handle."""
    if topic == "requests.request.v1":
        return events.request_submitted_v2()
    if topic == "requests.contact.v1":
        return events.contact_recorded()
    if topic == BILLING_CONVENTION.name:
        return events.convention_event(
            ConventionExpired, actor_id="fuzz-actor", expired_at=datetime.now(UTC)
        )
    if topic == "billing.adhesion.v1":
        return events.adhesion_registered()
    if topic == "matching.mission.v1":
        return events.deliverable_added()
    if topic == "billing.invoice.v1" and service == "resources":
        # Its subscriber of the invoices routes them alone (notifications routes all of its
        # types on every topic).
        return events.mission_invoice()
    if topic == "resources.training.v1":
        return activity_events(2027)[-1]
    return events.assignment_completed(actor_id="fuzz-actor", days_spent=Decimal("1.5"))


@dataclass
class Case:
    label: str
    record: Raw
    # The ce_id a dead letter carries, or None when the record goes unread (unknown type).
    marker: str | None
    key: bytes
    ce_id: str


def headers(envelope: Envelope, **changes: bytes | None) -> list[tuple[str, bytes]]:
    raw = {k: v.encode() for k, v in envelope.to_headers().items()}
    for name, value in changes.items():
        if value is None:
            raw.pop(name, None)
        else:
            raw[name] = value
    return list(raw.items())


@st.composite
def corrupted(draw: st.DrawFn, event_type: str) -> Case:
    envelope = Envelope(type=event_type, source="fuzz", departement="49")
    key = uuid.uuid4().hex.encode()
    kind = draw(
        st.sampled_from(
            [
                "broken_json",
                "wrong_shape",
                "missing_header",
                "non_ascii_header",
                "bad_departement",
                "huge_body",
                "unknown_type",
                "future_version",
            ]
        )
    )
    body: bytes = b"{}"
    hdrs = headers(envelope)
    marker: str | None = envelope.id
    if kind == "broken_json":
        body = draw(st.binary(min_size=1, max_size=200).filter(lambda b: not _is_json(b)))
    elif kind == "wrong_shape":
        body = json.dumps(
            draw(
                st.one_of(
                    st.lists(st.integers(), max_size=3),
                    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
                    st.integers(),
                    st.text(max_size=20),
                )
            )
        ).encode()
    elif kind == "missing_header":
        name = draw(st.sampled_from(["ce_id", "ce_type", "ce_time", "departement", "ce_source"]))
        hdrs = headers(envelope, **{name: None})
        marker = None if name in ("ce_id", "ce_type") else envelope.id
    elif kind == "non_ascii_header":
        hdrs = headers(envelope, ce_source="préfecture".encode("latin-1"))
    elif kind == "bad_departement":
        hdrs = headers(envelope, departement=draw(st.sampled_from([b"20", b"99", b"", b"4 9"])))
    elif kind == "huge_body":
        body = json.dumps({"padding": "x" * 600_000}).encode()
    elif kind == "unknown_type":
        hdrs = headers(envelope, ce_type=b"fuzz.something.happened.v1")
        marker = None
    else:
        hdrs = headers(envelope, ce_type=re.sub(r"\.v[0-9]+$", ".v99", event_type).encode())
        marker = None
    return Case(kind, (key, body, hdrs), marker, key, envelope.id)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def consumed_topics(service: str) -> list[str]:
    # Commands have their own bad-input tests (test_requests_bad_commands.py).
    return [
        t.name
        for t in TOPICS
        if service in t.consumers
        and t.name != "requests.command.v1"
        and not t.name.endswith(".commands.v1")
    ]


CASES = [
    (s, t)
    for s in ("requests", "matching", "billing", "notifications", "resources")
    for t in consumed_topics(s)
]


@pytest.mark.parametrize(("service", "topic"), CASES, ids=[f"{s}<-{t}" for s, t in CASES])
async def test_a_consumer_dead_letters_bad_records_and_keeps_going(
    service: str,
    topic: str,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
) -> None:
    event_type = good_event(topic, service).event_type
    rng = random.Random(f"{service}-{topic}")
    drawn: list[Case] = []

    @settings(
        max_examples=40,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(corrupted(event_type))
    def collect(case: Case) -> None:
        drawn.append(case)

    collect()
    rng.shuffle(drawn)
    good = good_event(topic, service)
    good_envelope = Envelope(type=good.event_type, source="fuzz", departement="49")
    records = [c.record for c in drawn] + [
        (b"49", good.model_dump_json().encode(), headers(good_envelope))
    ]
    async with (
        running_service(service, fresh_database, kafka_topics) as running,
        TopicTap(kafka_topics, dead_letter_topic(topic, service)) as dlq,
    ):
        await publish_raw(kafka_topics, topic, records)
        expected = {c.marker for c in drawn if c.marker}
        keys = {c.key for c in drawn if c.marker is None and c.label == "missing_header"}
        letters = await dlq.collect(
            lambda rs: (
                expected <= {r.headers.get("ce_id") for r in rs} and keys <= {r.key for r in rs}
            ),
            timeout=60,
            settle=1.0,
        )
        ready = await running.client.get("/health/ready")
        async with running.runtime.session_factory() as session:
            processed = (
                await session.execute(
                    select(PROCESSED_EVENTS.c.outcome).where(
                        PROCESSED_EVENTS.c.event_id == good_envelope.id
                    )
                )
            ).scalar_one_or_none()

    mine = [r for r in letters if r.headers.get("ce_id") in expected or r.key in keys]
    reasons = sorted({r.headers["dlq_reason"] for r in mine})
    print(f"\n{service} <- {topic}: {len(drawn)} bad records, {len(mine)} dead letters, {reasons}")
    assert ready.status_code == 200, "the service must survive every record"
    assert processed == "handled", "the good record behind the bad ones must be processed"
    assert all(r.headers.get("dlq_reason") and r.headers.get("dlq_error") for r in mine)
    assert {r.headers.get("dlq_original_topic") for r in mine} == {topic}
    # Unknown and future types are skipped by design, never dead-lettered.
    skipped = {c.ce_id for c in drawn if c.label in ("unknown_type", "future_version")}
    assert not [r for r in letters if r.headers.get("ce_id") in skipped]
