"""The operations two billing instances perform concurrently in the numbering test: mission
invoices (the advance at the convention's signature, the balance at completion), credit
notes and cotisation batches, drawn by Hypothesis, some rolled back on
purpose right after the numbers were taken or just before the commit."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.billing.adapters.unit_of_work import BillingUnitOfWork
from services.billing.domain.adhesion import Adhesion
from services.billing.domain.invoice import Invoice, advance_key
from services.billing.service_layer.cotisation_run import invoice_cotisations
from services.billing.service_layer.invoices import cancel_invoice
from services.billing.service_layer.mission_invoices import invoice_mission
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentCompleted
from shared.contracts.vocabulary import RequesterKind
from shared.db.engine import make_session_factory
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.support import events
from tests.support.conventions import sign_for_completions

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
    event = events.assignment_completed(
        departement=op.departement,
        actor_id=f"{op.actor_kind}{op.departement}",
        actor_name=f"Acteur {op.actor_kind} {op.departement}",
        actor_kind=op.actor_kind,
        requester_code=codes[op.requester % len(codes)],
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


async def signed_first(
    factory: async_sessionmaker[AsyncSession],
    event: AssignmentCompleted,
    ledger: Ledger,
    stats: Stats,
) -> None:
    """A mission is invoiced on its signed convention: signing it issues the advance, a
    document numbered like the others (in the year of signature), cancellable too."""
    unit_of_work = lambda: BillingUnitOfWork(factory, source="billing")  # noqa: E731
    await sign_for_completions(unit_of_work, [event])
    async with unit_of_work() as uow:
        advance = await uow.invoices.by_source(advance_key(event.assignment_id))
    assert advance is not None
    stats.committed["advance"] += 1
    ledger.committed[advance.id] = advance
    ledger.cancellable.append(advance)


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
                await signed_first(factory, event, ledger, stats)
                invoice = await invoice_mission(uow, event, envelope)
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
                "outbox, processed_events, conventions, convention_counters, unbilled_completions"
            )
        )
    async with BillingUnitOfWork(make_session_factory(engine), source="billing") as uow:
        await uow.adhesions.add(year_members)
        await uow.commit()
