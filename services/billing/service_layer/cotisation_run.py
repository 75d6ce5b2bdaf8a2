"""The annual cotisation run: every active member of a year invoiced, batch by batch.

A run can be stopped at any moment and started again: the members already invoiced are
skipped (the business key says so), and numbers stay gapless.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.billing.domain.invoice import (
    DRAFT_SEQUENCE,
    Collectivite,
    Invoice,
    cotisation_key,
    issue,
    numbered,
)
from services.billing.domain.pricing import cotisation_lines
from services.billing.service_layer.buyers import accounts_of, check_draft
from services.billing.service_layer.invoices import count_issued
from services.billing.service_layer.ports import UnitOfWork
from services.billing.service_layer.tariffs import resolve_tariff
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import RequesterKind
from shared.errors import DomainValidationError, Forbidden, NotFound
from shared.observability.logging import get_logger

log = get_logger(__name__)

# A run advances at every batch; one silent this long has lost its process.
STALE_RUN = timedelta(minutes=2)


@dataclass(slots=True)
class RunProgress:
    run_id: UUID
    members: int
    issued: int = 0
    amount_incl_tax: Decimal = Decimal("0.00")
    # Members left uninvoiced because their invoice would be refused (their buyer account).
    refused: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunPlan:
    run_id: UUID
    year: int
    departements: list[str]
    members: int


async def invoice_cotisations(
    uow: UnitOfWork,
    departement: str,
    year: int,
    after_code: str,
    limit: int,
    now: datetime,
    refused: list[str] | None = None,
) -> tuple[list[Invoice], str | None]:
    """Invoice the next ``limit`` members without a cotisation invoice, in one transaction.

    Returns the invoices and the last code handled (None when nothing was left); the
    members whose invoice would be refused are added to ``refused``, not numbered.
    """
    # Locks in one order everywhere: the tariff, then the numbering. The numbering lock
    # comes before reading the members, so a concurrent batch of the same département
    # waits, then sees the members this one invoiced.
    version, tariff = await resolve_tariff(uow, departement, year, now)
    await uow.invoices.lock_numbering(departement, year)
    members = await uow.adhesions.members_to_invoice(departement, year, after_code, limit)
    if not members:
        return [], None
    drafts = [
        issue(
            departement=departement,
            year=year,
            sequence=DRAFT_SEQUENCE,
            issued_at=now,
            document_kind="invoice",
            invoice_kind="cotisation",
            collectivite=Collectivite(
                m.collectivite_code, m.collectivite_kind, m.collectivite_name
            ),
            tariff_version=version,
            lines=cotisation_lines(
                tariff,
                "commune" if m.collectivite_kind is RequesterKind.COMMUNE else "epci",
                m.population,
                year,
            ),
            source_key=cotisation_key(year, m.collectivite_code),
        )
        for m in members
    ]
    accounts = await accounts_of(uow, drafts)
    issuable = []
    for draft in drafts:
        try:
            # Before any number is taken: a member whose invoice would be refused (its
            # buyer requires an engagement number, which a cotisation has none of) is
            # left to invoice, and said, rather than numbered.
            check_draft(draft, accounts.get(draft.collectivite.code))
        except DomainValidationError as exc:
            log.warning(
                "cotisation refused before numbering",
                departement=departement,
                collectivite=draft.collectivite.code,
                reasons=[e.message for e in exc.errors],
            )
            if refused is not None:
                refused.append(draft.collectivite.code)
            continue
        issuable.append(draft)
    numbers, issued_at = await uow.invoices.take_numbers(departement, year, len(issuable))
    issued = [numbered(d, n, issued_at) for d, n in zip(issuable, numbers, strict=True)]
    await uow.invoices.add(issued)
    await uow.outbox.add_many([(i.event(), departement) for i in issued])
    return issued, members[-1].collectivite_code


async def interrupt_stale_runs(uow: UnitOfWork, now: datetime) -> int:
    interrupted = await uow.runs.interrupt_stale(now - STALE_RUN, now)
    await uow.commit()
    return interrupted


def run_departements(principal: Principal, wanted: list[str]) -> list[str]:
    """The départements a principal may run the cotisations of ([]: all, administration)."""
    if principal.role is Role.ADMIN:
        return wanted
    if principal.role is not Role.DEPARTEMENT or any(d != principal.departement for d in wanted):
        raise Forbidden("Réservé à l'équipe du département (ou à l'administration).")
    return [principal.departement or ""]


async def open_run(
    unit_of_work: Callable[[], UnitOfWork],
    year: int,
    departements: list[str] | None,
    now: datetime,
    run_id: UUID | None = None,
) -> RunPlan:
    """Record a run and what it is about to invoice, before it starts."""
    async with unit_of_work() as uow:
        targets = departements or await uow.adhesions.member_departements(year)
        members = await uow.adhesions.count_members(targets, year)
        plan = RunPlan(run_id or uuid.uuid4(), year, targets, members)
        await uow.runs.start(plan.run_id, year, targets, members, now)
        await uow.commit()
    return plan


async def run_cotisations(
    unit_of_work: Callable[[], UnitOfWork],
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
                    refused: list[str] = []
                    issued, last = await invoice_cotisations(
                        uow, departement, plan.year, after, batch, now(), refused
                    )
                    if last is None:
                        break
                    amount = sum((i.totals.incl_tax for i in issued), Decimal("0.00"))
                    await uow.runs.advance(plan.run_id, len(issued), amount, now())
                    await uow.commit()
                count_issued(issued)
                after = last
                progress.issued += len(issued)
                progress.refused += refused
                progress.amount_incl_tax += amount
                if on_progress is not None:
                    on_progress(progress)
    except Exception as exc:
        async with unit_of_work() as uow:
            await uow.runs.finish(plan.run_id, "failed", 0, repr(exc)[:2000], now())
            await uow.commit()
        raise
    async with unit_of_work() as uow:
        already = plan.members - progress.issued - len(progress.refused)
        await uow.runs.finish(plan.run_id, "finished", already, None, now())
        await uow.commit()
    return progress


async def read_run(uow: UnitOfWork, principal: Principal, run_id: UUID) -> dict[str, Any]:
    """A run's progress; another département's run is "not found"."""
    found = await uow.runs.get(run_id)
    if found is None:
        raise NotFound("Appel de cotisations introuvable.")
    if principal.role is not Role.ADMIN and principal.departement not in found["departements"]:
        raise NotFound("Appel de cotisations introuvable.")
    return found
