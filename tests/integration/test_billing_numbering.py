"""Gapless numbering under concurrency: two billing instances on one real database.

French public accounting wants invoice numbers in one unbroken sequence per
département and year: no gap, no number twice, numbers in the order of issue.
Two "instances" (two SQLAlchemy engines, so two connection pools, as two
processes would have) issue mission invoices, credit notes and small cotisation
batches in parallel for a few départements and two years, and some of their
transactions are rolled back on purpose, right after the numbers were taken or
just before the commit, while holding the counter's lock for a moment.

Hypothesis draws the mix (derandomized, so every run draws the same). After each
draw, per département and year: the sequence is exactly 1..N, numbers are unique
and well formed, issue times never go down as numbers go up, the counter says N;
every committed document is there with its one outbox event and nothing
rolled back left a trace; lines add up to the totals; a credit note cancels its
invoice to the cent.

Two cotisation batches of the same département may pick the same members (the
member query takes no lock); the second then fails on the business key after
having taken numbers, and is rolled back: such collisions are counted, as
rollbacks the numbering must survive.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import Phase as Stage
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.billing.adapters.unit_of_work import BillingUnitOfWork
from services.billing.domain.adhesion import Adhesion
from services.billing.domain.invoice import Invoice
from services.billing.entrypoints.main import MIGRATIONS
from services.billing.service_layer.adhesions import enrol
from services.billing.service_layer.cotisation_run import invoice_cotisations
from services.billing.service_layer.invoices import cancel_invoice, invoice_mission
from services.billing.service_layer.tariffs import resolve_tariff
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentCompleted, NeedRef
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories

pytestmark = [pytest.mark.postgres]

DEPARTEMENTS = ("49", "78", "24", "2A")
YEARS = (2026, 2027)
INSTANCES = 2
WORKERS_PER_INSTANCE = 3
MEMBERS_PER_KEY = (8, 2)  # communes, EPCI enrolled per département and year
ADMIN = Principal(role=Role.ADMIN, subject="test-numbering", departement=None)
FAULTS = (None, None, None, None, "after_take", "before_commit")

Key = tuple[str, int]


class Abort(Exception):
    """The deliberate failure of a transaction."""


@dataclass(frozen=True)
class Op:
    instance: int
    kind: str  # mission, credit, cotisation
    departement: str
    year: int
    fault: str | None
    size: int  # cotisation batch size
    days: Decimal
    actor_kind: str
    requester: int
    hold_ms: int  # time spent holding the counter's lock after taking numbers


ops = st.builds(
    Op,
    instance=st.integers(0, INSTANCES - 1),
    kind=st.sampled_from(("mission", "mission", "credit", "cotisation")),
    departement=st.sampled_from(DEPARTEMENTS),
    year=st.sampled_from(YEARS),
    fault=st.sampled_from(FAULTS),
    size=st.integers(1, 4),
    days=st.decimals(min_value=0, max_value=40, places=2),
    actor_kind=st.sampled_from(("caue", "cnfpt", "atd", "autre")),
    requester=st.integers(0, 11),
    hold_ms=st.sampled_from((0, 0, 1, 5)),
)


@dataclass
class Stats:
    examples: int = 0
    operations: int = 0
    committed: Counter[str] = field(default_factory=Counter)
    rolled_back: Counter[str] = field(default_factory=Counter)
    collisions: int = 0
    nothing_to_do: int = 0
    documents: int = 0
    longest_sequence: int = 0
    tariff_versions_beyond_one: int = 0


STATS = Stats()


class FaultyUnitOfWork(BillingUnitOfWork):
    """A unit of work that can fail on purpose after ``take_numbers`` or instead of commit."""

    def __init__(
        self, factory: async_sessionmaker[AsyncSession], fault: str | None, hold: float
    ) -> None:
        super().__init__(factory, source="billing")
        self.fault = fault
        self.hold = hold
        self.taken: list[tuple[str, int, range]] = []

    def _open_repositories(self, session: AsyncSession) -> None:
        super()._open_repositories(session)
        take = self.invoices.take_numbers

        async def take_numbers(departement: str, year: int, count: int) -> tuple[range, datetime]:
            numbers, issued_at = await take(departement, year, count)
            self.taken.append((departement, year, numbers))
            if self.hold:
                # The counter row stays locked meanwhile: the other instance must wait.
                await asyncio.sleep(self.hold)
            if self.fault == "after_take":
                raise Abort("after take_numbers")
            return numbers, issued_at

        self.invoices.take_numbers = take_numbers  # type: ignore[method-assign]

    async def commit(self) -> None:
        if self.fault == "before_commit":
            raise Abort("before commit")
        await super().commit()


def members(year: int) -> list[Adhesion]:
    territories = get_territories()
    communes, epcis = MEMBERS_PER_KEY
    now = datetime(year, 1, 2, tzinfo=UTC)
    found: list[Adhesion] = []
    for departement in DEPARTEMENTS:
        chosen: list[tuple[str, RequesterKind, str, int]] = [
            (c.code_insee, RequesterKind.COMMUNE, c.nom, c.population)
            for c in territories.communes_of(departement)[:communes]
        ]
        chosen += [
            (e.siren, RequesterKind.EPCI, e.nom, e.population)
            for e in territories.epcis_of(departement)
            if territories.home_departement(e.siren) == departement
        ][:epcis]
        found += [
            Adhesion(
                id=uuid.uuid4(),
                departement=departement,
                year=year,
                collectivite_code=code,
                collectivite_kind=kind,
                collectivite_name=name,
                population=population,
                status="active",
                registered_at=now,
            )
            for code, kind, name, population in chosen
        ]
    return found


def requesters(departement: str) -> list[str]:
    # The first codes are members, the others are not: both mission rates are used.
    return [c.code_insee for c in get_territories().communes_of(departement)[:12]]


def completion(op: Op) -> tuple[AssignmentCompleted, Envelope]:
    codes = requesters(op.departement)
    event = AssignmentCompleted(
        assignment_id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        departement=op.departement,
        actor_id=f"{op.actor_kind}{op.departement}",
        actor_name=f"Acteur {op.actor_kind} {op.departement}",
        actor_kind=op.actor_kind,
        requester_code=codes[op.requester % len(codes)],
        requester_kind=RequesterKind.COMMUNE,
        needs=[NeedRef(theme=Theme.URBANISME, phase=Phase.FAISABILITE)],
        days_spent=op.days,
        started_at=datetime(op.year, 3, 1, tzinfo=UTC),
        completed_at=datetime(op.year, 9, 15, tzinfo=UTC),
    )
    envelope = Envelope(type=event.event_type, source="matching", departement=op.departement)
    return event, envelope


@dataclass
class Ledger:
    """What the instances committed, and the invoices still open to a credit note."""

    committed: dict[uuid.UUID, Invoice] = field(default_factory=dict)
    cancellable: list[Invoice] = field(default_factory=list)
    rolled_back: set[uuid.UUID] = field(default_factory=set)


async def perform(
    op: Op, factory: async_sessionmaker[AsyncSession], ledger: Ledger, stats: Stats
) -> None:
    now = datetime.now(UTC)
    kind = op.kind
    target: Invoice | None = None
    if kind == "credit":
        if ledger.cancellable:
            target = ledger.cancellable.pop(0)  # claimed: nobody else cancels it meanwhile
        else:
            kind = "mission"
    uow = FaultyUnitOfWork(factory, op.fault, op.hold_ms / 1000)
    issued: list[Invoice] = []
    try:
        async with uow:
            if kind == "mission":
                event, envelope = completion(op)
                invoice = await invoice_mission(uow, event, envelope, get_territories(), now)
                assert invoice is not None
                issued = [invoice]
                await uow.commit()
            elif kind == "credit":
                assert target is not None
                issued = [await cancel_invoice(uow, ADMIN, target.id, "Erreur", now)]
            else:
                issued, last = await invoice_cotisations(
                    uow, op.departement, op.year, "", op.size, now
                )
                if last is None:
                    stats.nothing_to_do += 1
                await uow.commit()
    except Abort:
        stats.rolled_back[f"{kind}:{op.fault}"] += 1
        ledger.rolled_back.update(i.id for i in issued)
        if target is not None:
            ledger.cancellable.append(target)
        return
    except IntegrityError as exc:
        # Only two cotisation batches picking the same members may collide.
        assert kind == "cotisation" and "invoices_source_key_key" in str(exc), exc
        assert uow.taken, "the collision comes after numbers were taken"
        stats.collisions += 1
        ledger.rolled_back.update(i.id for i in issued)
        return
    stats.committed[kind] += 1
    for invoice in issued:
        ledger.committed[invoice.id] = invoice
        if invoice.document_kind == "invoice":
            ledger.cancellable.append(invoice)


async def reset(engine: AsyncEngine, year_members: list[Adhesion]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE invoices, invoice_counters, adhesions, tariffs, cotisation_runs, "
                "outbox, processed_events"
            )
        )
    async with BillingUnitOfWork(make_session_factory(engine), source="billing") as uow:
        await uow.adhesions.add(year_members)
        await uow.commit()


async def check(engine: AsyncEngine, ledger: Ledger, stats: Stats) -> None:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, number, departement, year, sequence, document_kind, lines, "
                    "total_excl_tax, total_vat, total_incl_tax, refers_to, issued_at "
                    "FROM invoices ORDER BY departement, year, sequence"
                )
            )
        ).all()
        counters = {
            (r.departement, r.year): r.last_number
            for r in (
                await conn.execute(
                    text("SELECT departement, year, last_number FROM invoice_counters")
                )
            ).all()
        }
        events = (
            await conn.execute(
                text(
                    "SELECT event_type, payload FROM outbox "
                    "WHERE topic = 'billing.invoice.v1' ORDER BY id"
                )
            )
        ).all()
        versions = (
            await conn.execute(
                text("SELECT departement, year, count(*) AS n FROM tariffs GROUP BY 1, 2")
            )
        ).all()

    by_key: dict[Key, list[Any]] = defaultdict(list)
    for row in rows:
        by_key[(row.departement, row.year)].append(row)
    for (departement, year), docs in by_key.items():
        sequences = [d.sequence for d in docs]
        assert sequences == list(range(1, len(docs) + 1)), (departement, year, sequences)
        assert [d.number for d in docs] == [f"{departement}-{year}-{s:06d}" for s in sequences]
        times = [d.issued_at for d in docs]
        assert times == sorted(times), f"{departement}-{year}: issue times go down"
        assert counters.get((departement, year)) == len(docs), (departement, year, counters)
        stats.longest_sequence = max(stats.longest_sequence, len(docs))
    # A counter without a committed document was only ever used by rolled-back work.
    assert {k: n for k, n in counters.items() if k not in by_key and n != 0} == {}
    assert len({r.number for r in rows}) == len(rows)

    stored = {r.id: r for r in rows}
    assert set(stored) == set(ledger.committed), "committed documents and stored rows differ"
    assert not ledger.rolled_back & set(stored), "a rolled-back document was stored"
    for row in rows:
        lines = row.lines
        excl = sum((Decimal(li["amount_excl_tax"]) for li in lines), Decimal("0.00"))
        vat = sum((Decimal(li["vat_amount"]) for li in lines), Decimal("0.00"))
        incl = sum((Decimal(li["amount_incl_tax"]) for li in lines), Decimal("0.00"))
        assert lines, row.number
        for li in lines:
            assert Decimal(li["amount_excl_tax"]) + Decimal(li["vat_amount"]) == Decimal(
                li["amount_incl_tax"]
            ), (row.number, li)
        assert (excl, vat, incl) == (row.total_excl_tax, row.total_vat, row.total_incl_tax), (
            row.number
        )
        assert row.total_excl_tax + row.total_vat == row.total_incl_tax, row.number
        if row.document_kind == "credit_note":
            cancelled = stored[row.refers_to]
            assert (cancelled.departement, cancelled.year) == (row.departement, row.year)
            assert row.total_incl_tax == -cancelled.total_incl_tax, row.number
            assert len(row.lines) == len(cancelled.lines)
    refers = [r.refers_to for r in rows if r.refers_to is not None]
    assert len(refers) == len(set(refers)), "an invoice was cancelled twice"

    # One event per committed document, none for what was rolled back.
    published = Counter(json.loads(payload)["document_id"] for _, payload in events)
    assert published == Counter(str(i) for i in stored), "outbox events and documents differ"
    stats.documents += len(rows)
    stats.tariff_versions_beyond_one += sum(v.n - 1 for v in versions)


async def run_example(url: str, plan: list[Op], stats: Stats) -> None:
    engines = [
        make_engine(url, pool_size=WORKERS_PER_INSTANCE, application_name=f"numbering-{n}")
        for n in range(INSTANCES)
    ]
    try:
        await reset(engines[0], [m for year in YEARS for m in members(year)])
        ledger = Ledger()
        factories = [make_session_factory(e) for e in engines]
        queues: list[asyncio.Queue[Op]] = [asyncio.Queue() for _ in range(INSTANCES)]
        for op in plan:
            queues[op.instance].put_nowait(op)

        async def worker(instance: int) -> None:
            queue = queues[instance]
            while not queue.empty():
                await perform(queue.get_nowait(), factories[instance], ledger, stats)

        # A worker that fails cancels the others, whose transactions roll back.
        async with asyncio.TaskGroup() as group:
            for n in range(INSTANCES):
                for _ in range(WORKERS_PER_INSTANCE):
                    group.create_task(worker(n))
        await check(engines[0], ledger, stats)
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.fixture(scope="module")
def database_url(fresh_database: Callable[[str], Awaitable[str]]) -> str:
    url = asyncio.run(fresh_database("billing_numbering"))
    upgrade(MIGRATIONS, url)
    return url


def test_numbers_have_no_gap_and_no_duplicate_under_two_concurrent_instances(
    database_url: str,
) -> None:
    @settings(
        max_examples=12,
        derandomize=True,
        deadline=None,
        database=None,
        # Every run of an example costs a database round; shrinking a failure would take
        # minutes and end in the test's timeout, hiding the error: report it as drawn.
        phases=(Stage.explicit, Stage.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(ops, min_size=20, max_size=70))
    def concurrent_issuance(plan: list[Op]) -> None:
        STATS.examples += 1
        STATS.operations += len(plan)
        asyncio.run(run_example(database_url, plan, STATS))

    concurrent_issuance()
    print(
        f"\nbilling numbering: {STATS.examples} examples, {STATS.operations} operations on "
        f"{INSTANCES} instances x {WORKERS_PER_INSTANCE} workers; committed "
        f"{dict(sorted(STATS.committed.items()))}, {STATS.documents} documents checked, "
        f"longest sequence {STATS.longest_sequence}; rolled back on purpose "
        f"{sum(STATS.rolled_back.values())} {dict(sorted(STATS.rolled_back.items()))}; "
        f"cotisation collisions {STATS.collisions}; batches with nothing left "
        f"{STATS.nothing_to_do}; duplicate tariff versions {STATS.tariff_versions_beyond_one}"
    )
    assert STATS.rolled_back, "no transaction was rolled back: the draw tested nothing"
    assert STATS.committed["credit"] and STATS.committed["cotisation"]


# --- races found while writing the above, pinned until fixed -------------------------------


async def _first_use_of_a_tariff_twice(url: str) -> int:
    engines = [make_engine(url, pool_size=1, application_name=f"tariff-{n}") for n in range(2)]
    first, second = (BillingUnitOfWork(make_session_factory(e), source="billing") for e in engines)
    now = datetime.now(UTC)
    try:
        async with first, second:
            # Instance A stores the shipped tariff at its first use, not yet committed...
            await resolve_tariff(first, "90", 2031, now)
            # ...instance B finds none either and waits for A's advisory lock...
            b = asyncio.create_task(resolve_tariff(second, "90", 2031, now))
            await asyncio.sleep(0.5)
            assert not b.done()
            await first.commit()
            # ...then adds the same tariff again, as the next version.
            await b
            await second.commit()
        async with engines[0].connect() as conn:
            return int(
                (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM tariffs WHERE departement = '90' AND year = 2031"
                        )
                    )
                ).scalar_one()
            )
    finally:
        for engine in engines:
            await engine.dispose()


# Once a bug (resolve_tariff read before the lock); now the lock comes first.
def test_two_instances_using_a_tariff_first_store_one_version(database_url: str) -> None:
    assert asyncio.run(_first_use_of_a_tariff_twice(database_url)) == 1


async def _two_batches_of_one_departement(url: str) -> tuple[int, int]:
    engines = [make_engine(url, pool_size=1, application_name=f"batch-{n}") for n in range(2)]
    factories = [make_session_factory(e) for e in engines]
    year, departement = 2032, "90"
    territories = get_territories()
    now = datetime.now(UTC)
    try:
        async with BillingUnitOfWork(factories[0], source="billing") as uow:
            await enrol(uow, year, [departement], territories, now)
        async with (
            BillingUnitOfWork(factories[0], source="billing") as first,
            BillingUnitOfWork(factories[1], source="billing") as second,
        ):
            # Instance A invoices the first ten members and holds the counter's lock...
            issued, _ = await invoice_cotisations(first, departement, year, "", 10, now)
            # ...instance B picks the same ten (not invoiced yet, for it) and waits...
            b = asyncio.create_task(invoice_cotisations(second, departement, year, "", 10, now))
            await asyncio.sleep(0.5)
            assert not b.done()
            await first.commit()
            # ...then sees them invoiced and takes the next ten.
            more, _ = await b
            await second.commit()
        return len(issued), len(more)
    finally:
        for engine in engines:
            await engine.dispose()


# Once a bug (members picked before the numbering lock); now the lock comes first.
def test_two_concurrent_batches_of_one_departement_share_the_members(database_url: str) -> None:
    assert asyncio.run(_two_batches_of_one_departement(database_url)) == (10, 10)
