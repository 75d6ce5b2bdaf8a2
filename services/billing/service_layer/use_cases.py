"""Use cases of the billing service: adhésions, tariffs, mission invoices, credit notes
and the annual cotisation run."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from services.billing.adapters.repository import (
    Adhesion,
    BillingRepository,
    StoredInvoice,
    invoice_number,
)
from services.billing.domain.pricing import Line, PricingError, cotisation_lines, mission_lines
from services.billing.domain.tariff import (
    Tariff,
    load_shipped,
    parse_tariff,
    reference_tariff,
    tariff_to_dict,
)
from shared.auth.tokens import Principal, Role
from shared.contracts.billing import (
    AdhesionEnded,
    AdhesionRegistered,
    CreditNoteIssued,
    InvoiceIssued,
    LineRef,
)
from shared.contracts.matching import AssignmentCompleted
from shared.contracts.vocabulary import THEME_LABELS, RequesterKind
from shared.errors import Conflict, DomainValidationError, FieldError, Forbidden, NotFound
from shared.messaging.consumer import RejectedEvent
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxWriter
from shared.observability.metrics import INVOICED_EUROS, INVOICES
from shared.refdata import Commune, Territories


class UnitOfWork(Protocol):
    repository: BillingRepository
    outbox: OutboxWriter

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


def ensure_team(principal: Principal, departement: str) -> None:
    if principal.role is Role.ADMIN:
        return
    if principal.role is not Role.DEPARTEMENT or principal.departement != departement:
        raise Forbidden("Réservé à l'équipe du département concerné.")


# --- tariffs ------------------------------------------------------------------------


async def resolve_tariff(
    uow: UnitOfWork, departement: str, year: int, now: datetime
) -> tuple[int, Tariff]:
    """The tariff in force; the shipped or reference one is stored at first use, so that
    every invoice points at a version that will never change."""
    # Two instances using a tariff first must not both store it.
    await uow.repository.lock_tariff(departement, year)
    stored = await uow.repository.tariff(departement, year)
    if stored is not None:
        version, document = stored
        return version, parse_tariff(document)
    tariff = load_shipped(departement, year) or reference_tariff(departement, year)
    version = await uow.repository.add_tariff_version(
        departement, year, tariff_to_dict(tariff), "tarif livré", now
    )
    return version, tariff


async def publish_tariff(
    uow: UnitOfWork, principal: Principal, document: dict[str, Any], now: datetime
) -> tuple[int, Tariff]:
    # A team publishes for its own département only, whatever the document says.
    tariff = parse_tariff(document, departement=principal.departement)
    ensure_team(principal, tariff.departement)
    version = await uow.repository.add_tariff_version(
        tariff.departement, tariff.year, tariff_to_dict(tariff), principal.subject, now
    )
    await uow.commit()
    return version, tariff


# --- adhésions ----------------------------------------------------------------------


def _adhesion_for(
    code: str, departement: str, year: int, territories: Territories, now: datetime
) -> Adhesion:
    found = territories.requester(code)
    if found is None:
        raise DomainValidationError(
            [FieldError("collectivite_code", f"Aucune collectivité de code {code}.")]
        )
    if not territories.belongs_to(code, departement):
        raise DomainValidationError(
            [
                FieldError(
                    "collectivite_code",
                    f"{found.nom} ({code}) n'appartient pas au département {departement}.",
                )
            ]
        )
    kind = RequesterKind.COMMUNE if isinstance(found, Commune) else RequesterKind.EPCI
    return Adhesion(
        id=uuid.uuid4(),
        departement=departement,
        year=year,
        collectivite_code=code,
        collectivite_kind=kind,
        collectivite_name=found.nom,
        population=found.population,
        status="active",
        registered_at=now,
    )


def _registered(a: Adhesion) -> AdhesionRegistered:
    return AdhesionRegistered(
        adhesion_id=a.id,
        departement=a.departement,
        year=a.year,
        collectivite_code=a.collectivite_code,
        collectivite_kind=a.collectivite_kind,
        collectivite_name=a.collectivite_name,
        population=a.population,
        registered_at=a.registered_at,
    )


async def register_adhesion(
    uow: UnitOfWork,
    principal: Principal,
    code: str,
    departement: str,
    year: int,
    territories: Territories,
    now: datetime,
) -> Adhesion:
    ensure_team(principal, departement)
    adhesion = _adhesion_for(code, departement, year, territories, now)
    if not await uow.repository.add_adhesions([adhesion]):
        raise Conflict(f"{adhesion.collectivite_name} est déjà adhérente pour {year}.")
    await uow.outbox.add(_registered(adhesion), departement=departement)
    await uow.commit()
    return adhesion


async def enrol(
    uow: UnitOfWork,
    year: int,
    departements: list[str],
    territories: Territories,
    now: datetime,
) -> int:
    """Every commune and EPCI of the départements becomes a member for the year (demo,
    benchmarks, and départements whose offer includes everyone)."""
    wanted: list[Adhesion] = []
    for departement in departements:
        codes = [c.code_insee for c in territories.communes_of(departement)]
        codes += [
            e.siren
            for e in territories.epcis_of(departement)
            if territories.home_departement(e.siren) == departement
        ]
        wanted += [_adhesion_for(code, departement, year, territories, now) for code in codes]
    added = 0
    for start in range(0, len(wanted), 2000):
        chunk = await uow.repository.add_adhesions(wanted[start : start + 2000])
        await uow.outbox.add_many([(_registered(a), a.departement) for a in chunk])
        added += len(chunk)
    await uow.commit()
    return added


async def end_adhesion(
    uow: UnitOfWork, principal: Principal, adhesion_id: UUID, reason: str | None, now: datetime
) -> Adhesion:
    adhesion = await uow.repository.adhesion(adhesion_id, lock=True)
    if adhesion is None:
        raise NotFound("Adhésion introuvable.")
    ensure_team(principal, adhesion.departement)
    if adhesion.status == "ended":
        return adhesion
    adhesion.status, adhesion.ended_at = "ended", now
    await uow.repository.end_adhesion(adhesion)
    await uow.outbox.add(
        AdhesionEnded(
            adhesion_id=adhesion.id,
            departement=adhesion.departement,
            year=adhesion.year,
            collectivite_code=adhesion.collectivite_code,
            collectivite_kind=adhesion.collectivite_kind,
            reason=reason,
            ended_at=now,
        ),
        departement=adhesion.departement,
    )
    await uow.commit()
    return adhesion


# --- invoices -----------------------------------------------------------------------


def _line_dict(line: Line) -> dict[str, Any]:
    return LineRef(
        kind=line.kind,
        label=line.label,
        quantity=line.quantity,
        unit=line.unit,
        unit_price=line.unit_price,
        amount_excl_tax=line.amount_excl_tax,
        vat_rate=line.vat_rate,
        vat_amount=line.vat_amount,
        amount_incl_tax=line.amount_incl_tax,
        vat_mention=line.vat_mention,
    ).model_dump(mode="json")


def _document(
    *,
    departement: str,
    year: int,
    sequence: int,
    issued_at: datetime,
    document_kind: str,
    invoice_kind: str,
    collectivite: tuple[str, RequesterKind, str],
    tariff_version: int,
    lines: list[dict[str, Any]],
    source_key: str,
    refers_to: UUID | None = None,
    reason: str | None = None,
    request_id: UUID | None = None,
    assignment_id: UUID | None = None,
) -> StoredInvoice:
    code, kind, name = collectivite
    excl = sum((Decimal(li["amount_excl_tax"]) for li in lines), Decimal("0.00"))
    vat = sum((Decimal(li["vat_amount"]) for li in lines), Decimal("0.00"))
    return StoredInvoice(
        id=uuid.uuid4(),
        number=invoice_number(departement, year, sequence),
        departement=departement,
        year=year,
        sequence=sequence,
        document_kind=document_kind,
        invoice_kind=invoice_kind,
        collectivite_code=code,
        collectivite_kind=kind,
        collectivite_name=name,
        tariff_version=tariff_version,
        lines=lines,
        total_excl_tax=excl,
        total_vat=vat,
        total_incl_tax=excl + vat,
        refers_to=refers_to,
        reason=reason,
        source_key=source_key,
        request_id=request_id,
        assignment_id=assignment_id,
        issued_at=issued_at,
    )


def count_issued(documents: list[StoredInvoice]) -> None:
    """Business metrics, once the documents are committed."""
    for d in documents:
        kind = "avoir" if d.document_kind == "credit_note" else d.invoice_kind
        INVOICES.labels(d.departement, kind).inc()
        # A counter only grows: credit notes count their absolute amount under "avoir".
        INVOICED_EUROS.labels(d.departement, kind).inc(abs(float(d.total_incl_tax)))


def issued_event(
    invoice: StoredInvoice, refers_to_number: str | None = None
) -> InvoiceIssued | CreditNoteIssued:
    common: dict[str, Any] = {
        "document_id": invoice.id,
        "number": invoice.number,
        "departement": invoice.departement,
        "year": invoice.year,
        "collectivite_code": invoice.collectivite_code,
        "collectivite_kind": invoice.collectivite_kind,
        "collectivite_name": invoice.collectivite_name,
        "lines": [LineRef.model_validate(li) for li in invoice.lines],
        "total_excl_tax": invoice.total_excl_tax,
        "total_vat": invoice.total_vat,
        "total_incl_tax": invoice.total_incl_tax,
        "issued_at": invoice.issued_at,
    }
    if invoice.document_kind == "credit_note":
        assert invoice.refers_to is not None
        return CreditNoteIssued(
            **common,
            refers_to_id=invoice.refers_to,
            refers_to_number=refers_to_number or "",
            reason=invoice.reason or "",
        )
    return InvoiceIssued(
        **common,
        invoice_kind="cotisation" if invoice.invoice_kind == "cotisation" else "mission",
        tariff_version=invoice.tariff_version,
        request_id=invoice.request_id,
        assignment_id=invoice.assignment_id,
    )


async def invoice_mission(
    uow: UnitOfWork,
    event: AssignmentCompleted,
    envelope: Envelope,
    territories: Territories,
    now: datetime,
) -> StoredInvoice | None:
    """The mission fee of a completed assignment; None when it was invoiced before."""
    source_key = f"mission:{event.assignment_id}"
    if await uow.repository.invoice_by_source(source_key) is not None:
        return None
    year = event.completed_at.year
    version, tariff = await resolve_tariff(uow, event.departement, year, now)
    member = await uow.repository.adhesion_of(year, event.requester_code)
    is_member = member is not None and member.status == "active"
    themes = ", ".join(sorted({THEME_LABELS[n.theme].lower() for n in event.needs}))
    try:
        lines = mission_lines(
            tariff, event.actor_kind, event.days_spent, is_member, f"Mission ({themes})"
        )
    except PricingError as exc:
        raise RejectedEvent("unbillable_mission", str(exc)) from exc
    found = territories.requester(event.requester_code)
    name = found.nom if found is not None else event.requester_code
    [sequence], issued_at = await uow.repository.take_numbers(event.departement, year, 1)
    invoice = _document(
        departement=event.departement,
        year=year,
        sequence=sequence,
        issued_at=issued_at,
        document_kind="invoice",
        invoice_kind="mission",
        collectivite=(event.requester_code, event.requester_kind, name),
        tariff_version=version,
        lines=[_line_dict(li) for li in lines],
        source_key=source_key,
        request_id=event.request_id,
        assignment_id=event.assignment_id,
    )
    await uow.repository.add_invoices([invoice])
    await uow.outbox.add(issued_event(invoice), departement=invoice.departement, caused_by=envelope)
    return invoice


async def cancel_invoice(
    uow: UnitOfWork, principal: Principal, invoice_id: UUID, reason: str, now: datetime
) -> StoredInvoice:
    """Cancel an invoice with a credit note that refers to it; the invoice stays."""
    invoice = await uow.repository.invoice(invoice_id)
    if invoice is None:
        raise NotFound("Facture introuvable.")
    ensure_team(principal, invoice.departement)
    if invoice.document_kind == "credit_note":
        raise Conflict("Un avoir ne s'annule pas ; émettez une nouvelle facture.")
    source_key = f"credit:{invoice.id}"
    existing = await uow.repository.invoice_by_source(source_key)
    if existing is not None:
        return existing
    negated = [
        li
        | {
            "label": f"Annulation : {li['label']}",
            "quantity": str(-Decimal(li["quantity"])),
            "amount_excl_tax": str(-Decimal(li["amount_excl_tax"])),
            "vat_amount": str(-Decimal(li["vat_amount"])),
            "amount_incl_tax": str(-Decimal(li["amount_incl_tax"])),
        }
        for li in invoice.lines
    ]
    [sequence], issued_at = await uow.repository.take_numbers(invoice.departement, invoice.year, 1)
    credit = _document(
        departement=invoice.departement,
        year=invoice.year,
        sequence=sequence,
        issued_at=issued_at,
        document_kind="credit_note",
        invoice_kind=invoice.invoice_kind,
        collectivite=(
            invoice.collectivite_code,
            invoice.collectivite_kind,
            invoice.collectivite_name,
        ),
        tariff_version=invoice.tariff_version,
        lines=negated,
        source_key=source_key,
        refers_to=invoice.id,
        reason=reason,
        request_id=invoice.request_id,
        assignment_id=invoice.assignment_id,
    )
    await uow.repository.add_invoices([credit])
    await uow.outbox.add(issued_event(credit, invoice.number), departement=credit.departement)
    await uow.commit()
    count_issued([credit])
    return credit


# --- the annual cotisation run --------------------------------------------------------


@dataclass(slots=True)
class RunProgress:
    run_id: UUID
    members: int
    issued: int = 0
    amount_incl_tax: Decimal = Decimal("0.00")


async def invoice_cotisations(
    uow: UnitOfWork, departement: str, year: int, after_code: str, limit: int, now: datetime
) -> tuple[list[StoredInvoice], str | None]:
    """Invoice the next ``limit`` members without a cotisation invoice, in one transaction.

    Returns the invoices and the last code handled (None when nothing was left).
    """
    # Locks in one order everywhere: the tariff, then the numbering. The numbering lock
    # comes before reading the members, so a concurrent batch of the same département
    # waits, then sees the members this one invoiced.
    version, tariff = await resolve_tariff(uow, departement, year, now)
    await uow.repository.lock_numbering(departement, year)
    members = await uow.repository.members_to_invoice(departement, year, after_code, limit)
    if not members:
        return [], None
    numbers, issued_at = await uow.repository.take_numbers(departement, year, len(members))
    issued = [
        _document(
            departement=departement,
            year=year,
            sequence=sequence,
            issued_at=issued_at,
            document_kind="invoice",
            invoice_kind="cotisation",
            collectivite=(m.collectivite_code, m.collectivite_kind, m.collectivite_name),
            tariff_version=version,
            lines=[
                _line_dict(li)
                for li in cotisation_lines(
                    tariff,
                    "commune" if m.collectivite_kind is RequesterKind.COMMUNE else "epci",
                    m.population,
                    year,
                )
            ],
            source_key=f"cotisation:{year}:{m.collectivite_code}",
        )
        for m, sequence in zip(members, numbers, strict=True)
    ]
    await uow.repository.add_invoices(issued)
    await uow.outbox.add_many([(issued_event(i), departement) for i in issued])
    return issued, members[-1].collectivite_code


# A run advances at every batch; one silent this long has lost its process.
STALE_RUN = timedelta(minutes=2)


async def interrupt_stale_runs(uow: UnitOfWork, now: datetime) -> int:
    interrupted = await uow.repository.interrupt_stale_runs(now - STALE_RUN, now)
    await uow.commit()
    return interrupted


@dataclass(slots=True)
class RunPlan:
    run_id: UUID
    year: int
    departements: list[str]
    members: int


async def open_run(
    unit_of_work: Callable[[], Any],
    year: int,
    departements: list[str] | None,
    now: datetime,
    run_id: UUID | None = None,
) -> RunPlan:
    """Record a run and what it is about to invoice, before it starts."""
    async with unit_of_work() as uow:
        targets = departements or await uow.repository.member_departements(year)
        members = await uow.repository.count_members(targets, year)
        plan = RunPlan(run_id or uuid.uuid4(), year, targets, members)
        await uow.repository.start_run(plan.run_id, year, targets, members, now)
        await uow.commit()
    return plan


async def run_cotisations(
    unit_of_work: Callable[[], Any],
    plan: RunPlan,
    now: Callable[[], datetime],
    on_progress: Callable[[RunProgress], None] | None = None,
    batch: int = 500,
) -> RunProgress:
    """Invoice every active member of the year; safe to stop at any moment and to run
    again: the members already invoiced are skipped (the business key says so)."""
    progress = RunProgress(run_id=plan.run_id, members=plan.members)
    try:
        for departement in plan.departements:
            after = ""
            while True:
                async with unit_of_work() as uow:
                    issued, last = await invoice_cotisations(
                        uow, departement, plan.year, after, batch, now()
                    )
                    if last is None:
                        break
                    amount = sum((i.total_incl_tax for i in issued), Decimal("0.00"))
                    await uow.repository.advance_run(plan.run_id, len(issued), amount, now())
                    await uow.commit()
                count_issued(issued)
                after = last
                progress.issued += len(issued)
                progress.amount_incl_tax += amount
                if on_progress is not None:
                    on_progress(progress)
    except Exception as exc:
        async with unit_of_work() as uow:
            await uow.repository.finish_run(plan.run_id, "failed", 0, repr(exc)[:2000], now())
            await uow.commit()
        raise
    async with unit_of_work() as uow:
        await uow.repository.finish_run(
            plan.run_id, "finished", plan.members - progress.issued, None, now()
        )
        await uow.commit()
    return progress
