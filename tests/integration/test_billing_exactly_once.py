"""Exactly-once invoicing: redelivered completions and a second annual run add nothing.

Kafka delivers at least once, and a producer may publish the same completion again
under a new event id (a replay, a retry after a lost acknowledgement). The billing
service must invoice each mission once: the inbox drops a known ``ce_id``, the
business key ``mission:<assignment_id>`` drops a new copy. (Each mission's convention is
signed first: its balance is what the completion invoices.) The annual cotisation
run may be started again (by mistake, or after a crash): members already invoiced
are skipped through ``cotisation:<year>:<code>``.

Counted three ways: rows in ``invoices``, rows in the inbox, and invoice events on
``billing.invoice.v1``; numbers stay gapless per département and year.

Kafka is shared with whatever else runs (other tests, the demo stack): another
billing service listening at the same time invoices these completions too, in its
own database, and publishes its own invoice events for them. Events are therefore
matched to this service's rows by ``document_id``, and the others counted apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from services.billing import bootstrap
from services.billing.adapters.unit_of_work import BillingUnitOfWork
from services.billing.service_layer import adhesions
from shared.auth.tokens import Role
from shared.contracts.matching import AssignmentCompleted, NeedRef
from shared.contracts.topics import BILLING_INVOICE, MATCHING_ASSIGNMENT
from shared.contracts.vocabulary import Phase, Theme
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from shared.settings import KafkaSettings
from tests.support import events
from tests.support.conventions import sign_for_completions
from tests.support.kafka_tap import Record, TopicTap, publish_raw
from tests.support.services import RunningService, service_fixture
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ADMIN = bearer(Role.ADMIN, None)
YEAR = 2027
# Small départements: the run over their members takes a second.
DEPARTEMENTS = ("2A", "90")
MISSIONS_PER_DEPARTEMENT = 15
ISSUED = "billing.invoice.issued.v1"

Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


billing = service_fixture("billing", "billing")


async def scalar(billing: RunningService, sql: str, **params: Any) -> Any:
    async with billing.runtime.session_factory() as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0
) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not after {timeout} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def enrol(billing: RunningService) -> int:
    async with BillingUnitOfWork(billing.runtime.session_factory, source="billing") as uow:
        added = await adhesions.enrol(
            uow, YEAR, list(DEPARTEMENTS), get_territories(), datetime.now(UTC)
        )
    billing.runtime.relay.wake()
    return added


def completion(departement: str, n: int) -> AssignmentCompleted:
    communes = get_territories().communes_of(departement)
    return events.assignment_completed(
        departement=departement,
        actor_id=f"caue{departement}",
        actor_name=f"CAUE {departement}",
        actor_kind=("caue", "cnfpt", "atd")[n % 3],
        requester_code=communes[n * 7 % len(communes)].code_insee,
        needs=[NeedRef(theme=Theme.ENERGIE, phase=Phase.CONCEPTION)],
        days_spent=Decimal(n % 9) + Decimal("0.5"),
        started_at=datetime(YEAR, 2, 1, tzinfo=UTC),
        completed_at=datetime(YEAR, 5, 1 + n, tzinfo=UTC),
    )


def message(event: AssignmentCompleted, envelope: Envelope) -> Message:
    return events.as_record(event, envelope)[1]


def issued(records: list[Record], documents: set[str]) -> list[dict[str, Any]]:
    """Invoice events of the given documents (ids of this service's rows)."""
    found = []
    for r in records:
        if r.headers.get("ce_type") != ISSUED:
            continue
        payload = r.json()
        if payload.get("document_id") in documents:
            found.append(payload)
    return found


async def document_ids(billing: RunningService, where: str = "true") -> set[str]:
    async with billing.runtime.session_factory() as session:
        found = await session.execute(text(f"SELECT id FROM invoices WHERE {where}"))
        return {str(i) for i in found.scalars()}


async def assert_gapless(billing: RunningService) -> dict[str, int]:
    async with billing.runtime.session_factory() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT departement, year, array_agg(sequence ORDER BY sequence) AS seqs "
                    "FROM invoices GROUP BY departement, year"
                )
            )
        ).all()
    for row in rows:
        assert row.seqs == list(range(1, len(row.seqs) + 1)), (row.departement, row.year)
    return {f"{r.departement}-{r.year}": len(r.seqs) for r in rows}


async def test_every_completion_delivered_again_adds_no_invoice(
    billing: RunningService, kafka_topics: KafkaSettings
) -> None:
    members = await enrol(billing)
    events = [completion(dep, n) for dep in DEPARTEMENTS for n in range(MISSIONS_PER_DEPARTEMENT)]
    originals = [
        Envelope(type=e.event_type, source="matching", departement=e.departement) for e in events
    ]
    # The same completions published again under new event ids: only the business key knows.
    copies = [
        Envelope(type=e.event_type, source="matching", departement=e.departement) for e in events
    ]
    # No mission is invoiced without its signed convention: each is signed first (the
    # advance at signature is an invoice of its own, not counted below).
    await sign_for_completions(bootstrap.unit_of_work_factory(billing.runtime), events)
    ours = [str(e.assignment_id) for e in events]
    sent = [e.id for e in originals + copies]
    total = len(events)
    # Only these completions: a test elsewhere may publish others on the shared topic.
    missions = (
        "SELECT count(*) FROM invoices WHERE source_key LIKE 'mission:%' "
        "AND assignment_id::text = ANY(:ours)"
    )
    inbox = "SELECT count(*) FROM processed_events WHERE event_id = ANY(:ids)"

    async with TopicTap(kafka_topics, BILLING_INVOICE.name) as tap:
        # Round 1: each completion, at once its exact redelivery and its copy under a new id.
        await publish_raw(
            kafka_topics,
            MATCHING_ASSIGNMENT.name,
            [
                m
                for e, original, copy in zip(events, originals, copies, strict=True)
                for m in (message(e, original), message(e, original), message(e, copy))
            ],
        )
        first = await wait_until(
            lambda: _equals(billing, missions, total, ours=ours), "missions invoiced"
        )
        await wait_until(
            lambda: _equals(billing, inbox, 2 * total, ids=sent), "originals and copies consumed"
        )
        after_first = await scalar(billing, missions, ours=ours)

        # Round 2, after all that: everything again, then one sentinel per partition key,
        # whose invoice proves that everything published before it was consumed.
        sentinels = [completion(dep, MISSIONS_PER_DEPARTEMENT + 1) for dep in DEPARTEMENTS]
        await sign_for_completions(bootstrap.unit_of_work_factory(billing.runtime), sentinels)
        sentinel_envelopes = [
            Envelope(type=s.event_type, source="matching", departement=s.departement)
            for s in sentinels
        ]
        ours += [str(s.assignment_id) for s in sentinels]
        sent += [e.id for e in sentinel_envelopes]
        await publish_raw(
            kafka_topics,
            MATCHING_ASSIGNMENT.name,
            [
                m
                for e, original, copy in zip(events, originals, copies, strict=True)
                for m in (message(e, copy), message(e, original))
            ]
            + [message(s, e) for s, e in zip(sentinels, sentinel_envelopes, strict=True)],
        )
        await wait_until(
            lambda: _equals(billing, missions, total + len(sentinels), ours=ours),
            "sentinels invoiced",
        )
        documents = await document_ids(billing, "source_key LIKE 'mission:%'")
        records = await tap.collect(
            lambda rs: len(issued(rs, documents)) >= len(documents), settle=2.0
        )

    processed = await scalar(billing, inbox, ids=sent)
    handled = await scalar(billing, inbox + " AND outcome = 'handled'", ids=sent)
    rows = await scalar(billing, missions, ours=ours)
    on_topic = [p for p in issued(records, documents) if p["assignment_id"] in ours]
    per_assignment = Counter(p["assignment_id"] for p in on_topic)
    # Other billing services that consumed these completions too, into their own databases.
    foreign = [
        p
        for p in (r.json() for r in records if r.headers.get("ce_type") == ISSUED)
        if p.get("assignment_id") in ours and p["document_id"] not in documents
    ]
    numbers = await assert_gapless(billing)
    print(
        f"\nbilling exactly-once (completions): {total} missions published 3 times "
        f"(+ {2 * total} replayed in round 2, + {len(sentinels)} sentinels), "
        f"{members} members; invoiced after round 1 {after_first} in {first:.1f} s, "
        f"after round 2 {rows}; inbox {processed} rows ({handled} handled); "
        f"on {BILLING_INVOICE.name}: {len(on_topic)} invoice events, "
        f"{len(per_assignment)} distinct; numbers {numbers}; events for these missions "
        f"from other billing services on the shared broker: {len(foreign)}"
    )
    assert after_first == total
    assert rows == total + len(sentinels), "a redelivery or a copy added an invoice"
    # One inbox row per distinct event id: the originals, the copies, the sentinels.
    assert processed == handled == 2 * total + len(sentinels)
    assert set(per_assignment) == set(ours)
    assert max(per_assignment.values()) == 1, "an invoice event went out twice"
    assert len({p["number"] for p in on_topic}) == len(on_topic)


async def _equals(billing: RunningService, sql: str, expected: int, **params: Any) -> bool:
    return int(await scalar(billing, sql, **params)) == expected


async def run_once(billing: RunningService) -> tuple[dict[str, Any], dict[str, Any], float]:
    started = time.monotonic()
    response = await billing.client.post("/v1/cotisation-runs", json={"year": YEAR}, headers=ADMIN)
    assert response.status_code == 202, response.text
    opened = response.json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = (
            await billing.client.get(f"/v1/cotisation-runs/{opened['id']}", headers=ADMIN)
        ).json()
        if run["status"] != "running":
            return opened, run, time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {opened['id']} did not finish")


async def test_the_annual_run_started_twice_invoices_each_member_once(
    billing: RunningService, kafka_topics: KafkaSettings
) -> None:
    members = await enrol(billing)
    invoices = "SELECT count(*) FROM invoices WHERE invoice_kind = 'cotisation'"
    async with TopicTap(kafka_topics, BILLING_INVOICE.name) as tap:
        opened, first, first_seconds = await run_once(billing)
        rows_first = await scalar(billing, invoices)
        ids = await document_ids(billing, "invoice_kind = 'cotisation'")
        records = await tap.collect(lambda rs: len(issued(rs, ids)) >= len(ids))
        events_first = len(issued(records, ids))
        seen = len(tap.records)

        _, second, second_seconds = await run_once(billing)
        rows_second = await scalar(billing, invoices)
        # Long enough for the relay (polling every 0.2 s) to publish anything new.
        await asyncio.sleep(3.0)
        later = await tap.collect(lambda _: True, timeout=5.0, settle=1.0)
    new_records = later[seen:]
    # Cotisations of this service published again, or anew: none expected. (Its mission
    # invoices of completions that other tests publish on the shared topic are not counted.)
    new_ours = issued(new_records, await document_ids(billing, "invoice_kind = 'cotisation'"))
    euros = await scalar(
        billing, "SELECT sum(total_incl_tax) FROM invoices WHERE invoice_kind = 'cotisation'"
    )
    numbers = await assert_gapless(billing)
    # Rows written until now are published soon (foreign completions keep adding some).
    backlog = "SELECT count(*) FROM outbox WHERE published_at IS NULL AND created_at <= :cutoff"
    cutoff = datetime.now(UTC)
    with contextlib.suppress(AssertionError):
        await wait_until(lambda: _equals(billing, backlog, 0, cutoff=cutoff), "outbox", 15)
    unpublished = await scalar(billing, backlog, cutoff=cutoff)
    print(
        f"\nbilling exactly-once (annual run): {members} members of {DEPARTEMENTS}; "
        f"run 1 {first['status']} issued {first['issued']} in {first_seconds:.1f} s "
        f"({rows_first} rows, {events_first} events, {euros} EUR); "
        f"run 2 {second['status']} issued {second['issued']}, already invoiced "
        f"{second['already_invoiced']} in {second_seconds:.1f} s ({rows_second} rows, "
        f"{len(new_records)} new records on the shared topic, {len(new_ours)} cotisations "
        f"of this service); numbers {numbers}; unpublished outbox rows {unpublished}"
    )
    assert opened["members"] == members
    assert (first["status"], first["issued"], first["already_invoiced"]) == (
        "finished",
        members,
        0,
    )
    assert rows_first == members == events_first
    assert Decimal(first["amount_incl_tax"]) == euros
    assert (second["status"], second["issued"], second["already_invoiced"]) == (
        "finished",
        0,
        members,
    )
    assert rows_second == rows_first, "the second run added invoices"
    assert new_ours == [], "the second run published invoice events"
    # Numbers go to the cotisations (and to any mission of a completion published
    # elsewhere on the shared topic meanwhile).
    assert sum(numbers.values()) >= members
    assert unpublished == 0
