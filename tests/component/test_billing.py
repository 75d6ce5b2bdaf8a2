"""The billing service with its real database and broker: adhésions, the cotisation run,
conventions prepared from acceptances and signed, mission invoices on their schedule,
credit notes, documents."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from services.billing.adapters.orm import conventions as conventions_table
from services.billing.adapters.orm import invoices
from shared.auth.tokens import Role
from shared.contracts.matching import AssignmentAccepted
from shared.contracts.topics import BILLING_INVOICE, MATCHING_ASSIGNMENT
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.support import events
from tests.support.conventions import send_and_sign, wait_convention
from tests.support.kafka_tap import TopicTap, publish_raw
from tests.support.services import RunningService, service_fixture
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TEAM_78 = bearer(Role.DEPARTEMENT, "78")
YEAR = 2027


billing = service_fixture("billing", "billing")


async def wait_run(billing: RunningService, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = (await billing.client.get(f"/v1/cotisation-runs/{run_id}", headers=TEAM_78)).json()
        if run["status"] != "running":
            return run
        await asyncio.sleep(0.2)
    raise AssertionError("the run did not finish")


async def test_cotisation_run_numbers_without_gaps_and_does_nothing_twice(
    billing: RunningService, kafka_topics: KafkaSettings
) -> None:
    # Versailles is large (ceiling), Jouars-Pontchartrain just under 6,000; and an EPCI of the 78.
    codes = ["78646", "78321", "78005", "200033173"]
    for code in codes:
        response = await billing.client.post(
            "/v1/adhesions", json={"collectivite_code": code, "year": YEAR}, headers=TEAM_78
        )
        assert response.status_code == 201, response.text
    again = await billing.client.post(
        "/v1/adhesions", json={"collectivite_code": "78646", "year": YEAR}, headers=TEAM_78
    )
    assert again.status_code == 409
    foreign = await billing.client.post(
        "/v1/adhesions", json={"collectivite_code": "49007", "year": YEAR}, headers=TEAM_78
    )
    assert foreign.status_code == 422

    async with TopicTap(kafka_topics, BILLING_INVOICE.name) as tap:
        started = await billing.client.post(
            "/v1/cotisation-runs", json={"year": YEAR}, headers=TEAM_78
        )
        assert started.status_code == 202
        run = await wait_run(billing, started.json()["id"])
        assert (run["status"], run["issued"], run["members"]) == ("finished", 4, 4)
        records = await tap.collect(
            lambda rs: len([r for r in rs if r.headers["departement"] == "78"]) >= 4, settle=1.0
        )
        second = await billing.client.post(
            "/v1/cotisation-runs", json={"year": YEAR}, headers=TEAM_78
        )
        rerun = await wait_run(billing, second.json()["id"])
        assert (rerun["issued"], rerun["already_invoiced"]) == (0, 4)

    listed = (await billing.client.get(f"/v1/invoices?year={YEAR}", headers=TEAM_78)).json()
    assert [i["number"] for i in listed] == [f"78-{YEAR}-00000{n}" for n in range(1, 5)]
    assert [i["collectivite_code"] for i in listed] == sorted(codes)
    by_code = {i["collectivite_code"]: i for i in listed}
    # Versailles is far above 6,000 inhabitants: the IngénierY' ceiling applies.
    assert Decimal(by_code["78646"]["total_incl_tax"]) == Decimal("4200.00")
    for invoice in listed:
        total = sum(Decimal(line["amount_incl_tax"]) for line in invoice["lines"])
        assert total == Decimal(invoice["total_incl_tax"])
    mine = [r for r in records if r.headers["ce_type"] == "billing.invoice.issued.v1"]
    assert sorted(r.json()["number"] for r in mine if r.headers["departement"] == "78") == [
        i["number"] for i in listed
    ]


def mission(
    assignment_id: uuid.UUID, requester: str, days: str
) -> tuple[tuple[Envelope, bytes], tuple[Envelope, bytes]]:
    """The lead actor's acceptance and the completion of one mission, as matching writes them."""
    common: dict[str, Any] = {
        "assignment_id": assignment_id,
        "request_id": uuid.uuid4(),
        "departement": "78",
        "actor_id": "caue78",
        "actor_name": "CAUE des Yvelines",
        "requester_code": requester,
    }
    accepted = events.assignment_accepted(**common, accepted_at=datetime(YEAR, 3, 1, tzinfo=UTC))
    completed = events.assignment_completed(
        **common,
        days_spent=Decimal(days),
        started_at=datetime(YEAR, 3, 1, tzinfo=UTC),
        completed_at=datetime(YEAR, 6, 1, tzinfo=UTC),
    )
    return (
        (events.envelope_of(accepted), accepted.model_dump_json().encode()),
        (events.envelope_of(completed), completed.model_dump_json().encode()),
    )


def record(envelope: Envelope, value: bytes) -> events.Raw:
    return b"78", value, events.kafka_headers(envelope)


async def test_a_mission_is_invoiced_once_on_its_signed_convention_and_cancelled_by_a_credit_note(
    billing: RunningService, kafka_topics: KafkaSettings
) -> None:
    member = await billing.client.post(
        "/v1/adhesions", json={"collectivite_code": "78005", "year": YEAR}, headers=TEAM_78
    )
    assert member.status_code == 201
    for_member, for_other = uuid.uuid4(), uuid.uuid4()
    (acc_member, acc_member_value), (env_member, value_member) = mission(for_member, "78005", "3.5")
    (acc_other, acc_other_value), (env_other, value_other) = mission(for_other, "78321", "3.5")
    # The acceptance twice: one convention per demande all the same.
    await publish_raw(
        kafka_topics,
        MATCHING_ASSIGNMENT.name,
        [
            record(acc_member, acc_member_value),
            record(acc_member, acc_member_value),
            record(acc_other, acc_other_value),
        ],
    )
    conventions = {}
    for assignment_id, value in ((for_member, acc_member_value), (for_other, acc_other_value)):
        demande = AssignmentAccepted.model_validate_json(value).request_id
        prepared = await wait_convention(billing.client, "78", demande)
        conventions[assignment_id] = await send_and_sign(
            billing.client, prepared, f"EJ-{assignment_id.hex[:8]}", estimated_days="3.5"
        )
    # The same event twice, and the same completion published again under another id.
    replay = Envelope(type=env_member.type, source="matching", departement="78")
    async with TopicTap(kafka_topics, BILLING_INVOICE.name) as tap:
        await publish_raw(
            kafka_topics,
            MATCHING_ASSIGNMENT.name,
            [
                record(env_member, value_member),
                record(env_member, value_member),
                record(replay, value_member),
                record(env_other, value_other),
            ],
        )
        records = await tap.collect(
            lambda rs: (
                {str(for_member), str(for_other)}
                <= {r.json().get("assignment_id") for r in rs if r.headers.get("causation_id")}
            ),
            settle=1.5,
        )
    async with billing.runtime.session_factory() as session:
        ours = {
            str(i)
            for i in (
                await session.execute(
                    select(invoices.c.id).where(
                        invoices.c.assignment_id.in_([for_member, for_other])
                    )
                )
            ).scalars()
        }
        prepared_count = await session.scalar(
            select(func.count()).where(conventions_table.c.assignment_id == for_member)
        )
    assert prepared_count == 1, "one convention per demande, whatever the redeliveries"
    # Only this service's documents: another billing instance on the broker may bill too.
    # The balances are caused by the completions; the advances (signature) by nothing.
    caused = [r for r in records if r.headers.get("causation_id")]
    balances = [
        r.json()
        for r in caused
        if r.json().get("assignment_id") in (str(for_member), str(for_other))
        and r.json().get("document_id") in ours
    ]
    assert len(ours) == 4, "an advance at signature and a balance at completion, once each"
    assert len(balances) == 2, "one balance per mission, whatever the redeliveries"
    by_assignment = {i["assignment_id"]: i for i in balances}
    member_total = Decimal(conventions[for_member]["total_incl_tax"])
    other_total = Decimal(conventions[for_other]["total_incl_tax"])
    assert member_total < other_total, "members pay the reduced rate"
    assert "tarif adhérent" in conventions[for_member]["lines"][0]["label"]
    assert by_assignment[str(for_member)]["convention_number"] == conventions[for_member]["number"]
    assert [
        r.headers["causation_id"]
        for r in caused
        if r.json().get("assignment_id") == str(for_member) and r.json()["document_id"] in ours
    ] == [env_member.id]
    # The advances are of the year of signature (today), the balances of the completion's.
    listed = (await billing.client.get("/v1/invoices?limit=1000", headers=TEAM_78)).json()
    paid = {a: Decimal(0) for a in (str(for_member), str(for_other))}
    for invoice in listed:
        if invoice["id"] in ours:
            paid[invoice["assignment_id"]] += Decimal(invoice["total_incl_tax"])
    assert paid == {str(for_member): member_total, str(for_other): other_total}

    invoice_id = by_assignment[str(for_member)]["document_id"]
    async with TopicTap(kafka_topics, BILLING_INVOICE.name) as tap:
        credit = await billing.client.post(
            f"/v1/invoices/{invoice_id}/cancel",
            json={"reason": "Mission facturée par erreur"},
            headers=TEAM_78,
        )
        assert credit.status_code == 200, credit.text
        twice = await billing.client.post(
            f"/v1/invoices/{invoice_id}/cancel", json={"reason": "Encore"}, headers=TEAM_78
        )
        assert twice.json()["id"] == credit.json()["id"]
        notes = await tap.collect(
            lambda rs: any(r.headers["ce_type"] == "billing.credit_note.issued.v1" for r in rs)
        )
    note = credit.json()
    assert note["document_kind"] == "credit_note" and note["refers_to"] == invoice_id
    assert Decimal(note["total_incl_tax"]) == -Decimal(
        by_assignment[str(for_member)]["total_incl_tax"]
    )
    [event] = [r.json() for r in notes if r.headers["ce_type"] == "billing.credit_note.issued.v1"]
    assert event["refers_to_number"] == by_assignment[str(for_member)]["number"]

    document = await billing.client.get(f"/v1/invoices/{note['id']}/document", headers=TEAM_78)
    assert document.status_code == 200
    assert "Avoir n°" in document.text and by_assignment[str(for_member)]["number"] in document.text
    assert "256 B" in document.text or "TVA" in document.text
    export = await billing.client.get(f"/v1/invoices/export.csv?year={YEAR}", headers=TEAM_78)
    rows_csv = export.text.strip().splitlines()
    assert rows_csv[0].startswith("numero;type;nature")
    assert len(rows_csv) == 1 + 2 + 1, "the balances and the credit note of the year"
    assert any(
        line.startswith(note["number"]) and by_assignment[str(for_member)]["number"] in line
        for line in rows_csv
    )

    outsider = bearer(Role.DEPARTEMENT, "49")
    assert (
        await billing.client.get(f"/v1/invoices/{invoice_id}", headers=outsider)
    ).status_code == 404
    commune = bearer(Role.COLLECTIVITE, "78", "78005")
    assert (
        await billing.client.get(f"/v1/invoices/{invoice_id}", headers=commune)
    ).status_code == 200
    other_commune = bearer(Role.COLLECTIVITE, "78", "78321")
    assert (
        await billing.client.get(f"/v1/invoices/{invoice_id}", headers=other_commune)
    ).status_code == 403


async def test_a_run_whose_process_died_is_marked_interrupted(billing: RunningService) -> None:
    from datetime import timedelta

    from services.billing.adapters.run_repository import SqlCotisationRunRepository
    from services.billing.adapters.unit_of_work import BillingUnitOfWork
    from services.billing.service_layer.cotisation_run import interrupt_stale_runs

    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    fresh, dead = uuid.uuid4(), uuid.uuid4()
    async with billing.runtime.session_factory() as session:
        runs = SqlCotisationRunRepository(session)
        await runs.start(dead, YEAR, ["78"], 10, long_ago)
        await runs.start(fresh, YEAR, ["78"], 10, datetime.now(UTC))
        await session.commit()
    async with BillingUnitOfWork(billing.runtime.session_factory, "billing") as uow:
        assert await interrupt_stale_runs(uow, datetime.now(UTC)) == 1
    dead_run = (await billing.client.get(f"/v1/cotisation-runs/{dead}", headers=TEAM_78)).json()
    fresh_run = (await billing.client.get(f"/v1/cotisation-runs/{fresh}", headers=TEAM_78)).json()
    assert dead_run["status"] == "interrupted" and "relancez" in dead_run["error"]
    assert fresh_run["status"] == "running"
