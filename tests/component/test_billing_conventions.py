"""Conventions with billing's real database and broker: prepared from an acceptance on
the topic, signed with an engagement number and a service code that every invoice of
the mission then carries (event, CSV, document); the PDF opened and looked at; the
bad signatures refused in French; an unsigned convention expiring on the clock."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2
import pytest
from sqlalchemy import select

from services.billing import bootstrap
from services.billing.adapters.orm import invoices
from services.billing.service_layer.conventions import expire_due
from shared.auth.tokens import Role
from shared.contracts.matching import AssignmentAccepted, AssignmentCompleted, NeedRef
from shared.contracts.topics import BILLING_CONVENTION, BILLING_INVOICE, MATCHING_ASSIGNMENT
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.french import euros
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.support.conventions import send_and_sign, wait_convention
from tests.support.kafka_tap import TopicTap, publish_raw
from tests.support.services import RunningService, running_service
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TEAM_49 = bearer(Role.DEPARTEMENT, "49")
ANGERS = bearer(Role.COLLECTIVITE, "49", "49007")
YEAR = 2027
ENGAGEMENT, SERVICE = "EJ-2027-000123", "SERVICE-TECH"


@pytest.fixture
async def billing(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[RunningService]:
    async with running_service("billing", fresh_database, kafka_topics) as running:
        yield running


def _events(assignment_id: uuid.UUID) -> tuple[AssignmentAccepted, AssignmentCompleted]:
    common: dict[str, Any] = {
        "assignment_id": assignment_id,
        "request_id": uuid.uuid4(),
        "departement": "49",
        "actor_id": "caue49",
        "actor_name": "CAUE de Maine-et-Loire",
    }
    needs = [NeedRef(theme=Theme.ARCHITECTURE_PAYSAGE, phase=Phase.FAISABILITE)]
    who: dict[str, Any] = {
        "actor_kind": "caue",
        "requester_code": "49007",
        "requester_kind": RequesterKind.COMMUNE,
        "needs": needs,
    }
    accepted = AssignmentAccepted(
        **common, **who, accepted_at=datetime(YEAR, 2, 1, tzinfo=UTC), lead=True
    )
    completed = AssignmentCompleted(
        **common,
        **who,
        days_spent=Decimal(4),
        started_at=datetime(YEAR, 2, 1, tzinfo=UTC),
        completed_at=datetime(YEAR, 9, 1, tzinfo=UTC),
    )
    return accepted, completed


async def _publish(kafka: KafkaSettings, *events: AssignmentAccepted | AssignmentCompleted) -> None:
    records = []
    for event in events:
        envelope = Envelope(type=event.event_type, source="matching", departement="49")
        headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
        records.append((b"49", event.model_dump_json().encode(), headers))
    await publish_raw(kafka, MATCHING_ASSIGNMENT.name, records)


async def _documents_of(
    billing: RunningService, assignment_id: uuid.UUID, count: int, timeout: float = 30.0
) -> set[str]:
    """The ids of this service's invoices of the mission, once there are ``count``."""
    deadline = time.monotonic() + timeout
    while True:
        async with billing.runtime.session_factory() as session:
            found = {
                str(i)
                for i in (
                    await session.execute(
                        select(invoices.c.id).where(invoices.c.assignment_id == assignment_id)
                    )
                ).scalars()
            }
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_every_invoice_of_a_signed_mission_carries_its_engagement_number_and_service_code(
    billing: RunningService, kafka_topics: KafkaSettings
) -> None:
    assignment_id = uuid.uuid4()
    accepted, completed = _events(assignment_id)
    async with TopicTap(kafka_topics, BILLING_INVOICE.name) as tap:
        await _publish(kafka_topics, accepted)
        prepared = await wait_convention(billing.client, "49", accepted.request_id)
        assert prepared["number"].startswith(f"CONV-49-{YEAR}-")
        signed = await send_and_sign(billing.client, prepared, ENGAGEMENT, SERVICE, "4")
        await _publish(kafka_topics, completed)
        # Only this service's documents: another billing instance on the shared broker may
        # invoice the same completion in its own database.
        ours = await _documents_of(billing, assignment_id, count=2)
        records = await tap.collect(
            lambda rs: ours <= {r.json().get("document_id") for r in rs}, settle=1.0
        )
    issued = [r.json() for r in records if r.json().get("document_id") in ours]
    assert len(ours) == len(issued) == 2, "the advance at signature and the balance at completion"
    assert sum(Decimal(e["total_incl_tax"]) for e in issued) == Decimal(signed["total_incl_tax"])
    for event in issued:
        assert (event["convention_number"], event["engagement_number"], event["service_code"]) == (
            signed["number"],
            ENGAGEMENT,
            SERVICE,
        )
        year = event["year"]
        csv = await billing.client.get(
            f"/v1/invoices/export.csv?year={year}&departement=49", headers=TEAM_49
        )
        header, *rows = csv.text.strip().splitlines()
        assert header.endswith(";convention;engagement_juridique;code_service")
        [row] = [r for r in rows if r.startswith(event["number"] + ";")]
        assert row.endswith(f";{signed['number']};{ENGAGEMENT};{SERVICE}")
        document = await billing.client.get(
            f"/v1/invoices/{event['document_id']}/document", headers=ANGERS
        )
        assert document.status_code == 200
        assert f"Convention n° {signed['number']}" in document.text
        assert f"engagement juridique n° {ENGAGEMENT}" in document.text
        assert f"code service : {SERVICE}" in document.text


async def test_the_convention_reads_as_html_and_pdf_and_bad_signatures_are_refused_in_french(
    billing: RunningService, kafka_topics: KafkaSettings, tmp_path: Path
) -> None:
    accepted, _ = _events(uuid.uuid4())
    await _publish(kafka_topics, accepted)
    prepared = await wait_convention(billing.client, "49", accepted.request_id)
    url = f"/v1/conventions/{prepared['id']}"
    sent = await billing.client.post(f"{url}/send", json={"estimated_days": "4"}, headers=TEAM_49)
    assert sent.status_code == 200, sent.text
    for body, field in (
        ({"engagement_number": "X" * 51}, "engagement_number"),
        ({"engagement_number": "EJ-1", "siret": "1234567890123A"}, "siret"),
    ):
        bad = await billing.client.post(f"{url}/sign", json=body, headers=ANGERS)
        assert bad.status_code == 422, bad.text
        assert field in bad.text
    other = await billing.client.post(
        f"{url}/sign",
        json={"engagement_number": "EJ-1"},
        headers=bearer(Role.COLLECTIVITE, "49", "49002"),
    )
    assert other.status_code == 404, "another collectivité does not learn it exists"
    team = await billing.client.post(
        f"{url}/sign", json={"engagement_number": "EJ-1"}, headers=TEAM_49
    )
    assert team.status_code == 403 and "collectivité destinataire" in team.json()["detail"]
    signed = await billing.client.post(
        f"{url}/sign",
        json={"engagement_number": ENGAGEMENT, "service_code": SERVICE, "siret": "21490007800012"},
        headers=ANGERS,
    )
    assert signed.status_code == 200, signed.text
    again = await billing.client.post(
        f"{url}/sign", json={"engagement_number": "EJ"}, headers=ANGERS
    )
    assert again.status_code == 409 and "signée" in again.json()["detail"]
    total = euros(Decimal(signed.json()["total_incl_tax"]))

    html = await billing.client.get(f"{url}/document", headers=ANGERS)
    assert html.status_code == 200 and total in html.text and ENGAGEMENT in html.text

    pdf = await billing.client.get(f"{url}/document.pdf", headers=ANGERS)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    flat = " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())
    for expected in (
        prepared["number"],
        "Angers",
        "code INSEE 49007",
        "SIRET de facturation 21490007800012",
        "CAUE de Maine-et-Loire",
        "Offre d'ingénierie territoriale du département Maine-et-Loire",
        ENGAGEMENT,
        SERVICE,
        "Échéancier de paiement",
        "TVA non applicable, article 256 B du CGI",
        " ".join(total.replace("\u202f", " ").replace("\xa0", " ").split()),
    ):
        assert expected in flat, f"{expected!r} not in the PDF's text"
    page = pypdfium2.PdfDocument(pdf.content)[0].render(scale=1).to_pil().convert("L")
    page.save(tmp_path / "convention.png")
    dark = sum(page.histogram()[:128])
    assert dark > 0.005 * page.width * page.height, "the first page is (nearly) blank"


async def test_an_unsigned_convention_expires_on_the_clock_and_says_so(
    billing: RunningService, kafka_topics: KafkaSettings
) -> None:
    accepted, _ = _events(uuid.uuid4())
    await _publish(kafka_topics, accepted)
    prepared = await wait_convention(billing.client, "49", accepted.request_id)
    valid_until = datetime.fromisoformat(prepared["valid_until"])
    unit_of_work = bootstrap.unit_of_work_factory(billing.runtime)
    async with TopicTap(kafka_topics, BILLING_CONVENTION.name) as tap:
        async with unit_of_work() as uow:
            assert await expire_due(uow, valid_until - timedelta(days=1)) == []
        async with unit_of_work() as uow:
            expired = await expire_due(uow, valid_until + timedelta(seconds=1))
        assert prepared["id"] in {str(c.id) for c in expired}
        records = await tap.collect(
            lambda rs: any(r.json().get("convention_id") == prepared["id"] for r in rs)
        )
    [event] = [r for r in records if r.json().get("convention_id") == prepared["id"]]
    assert event.headers["ce_type"] == "billing.convention.expired.v1"
    assert event.json()["assignment_id"] == str(accepted.assignment_id)
    read = await billing.client.get(f"/v1/conventions/{prepared['id']}", headers=TEAM_49)
    assert read.json()["status"] == "expiree"
    sent = await billing.client.post(f"/v1/conventions/{prepared['id']}/send", headers=TEAM_49)
    assert sent.status_code == 409 and "expirée" in sent.json()["detail"]
