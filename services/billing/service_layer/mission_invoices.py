"""A mission is invoiced on its signed convention's schedule: the advance when the
collectivité signs, the balance when the mission is completed. A completion without a
signed convention is kept, visible to the team, and not invoiced: no mission invoice
exists without the collectivité's signature (ADR 0013)."""

from __future__ import annotations

from decimal import Decimal

from services.billing.domain.convention import (
    Convention,
    ConventionStatus,
    UnbilledCompletion,
)
from services.billing.domain.convention_pricing import advance_line, balance_line
from services.billing.domain.invoice import (
    DRAFT_SEQUENCE,
    Invoice,
    Line,
    advance_key,
    issue,
    mission_key,
    numbered,
)
from services.billing.service_layer.buyers import check_before_numbering
from services.billing.service_layer.ports import UnitOfWork
from shared.contracts.matching import AssignmentCompleted
from shared.errors import DomainValidationError
from shared.messaging.envelope import Envelope

NOT_SIGNED = "Convention non signée : la mission n'est pas facturée."
NO_CONVENTION = "Aucune convention pour cette mission : elle n'est pas facturée."
_ZERO = Decimal("0.00")


async def _issue(
    uow: UnitOfWork,
    convention: Convention,
    line: Line,
    source_key: str,
    year: int,
    caused_by: Envelope | None,
) -> Invoice | None:
    if line.amount_excl_tax == 0 or await uow.invoices.by_source(source_key) is not None:
        # Nothing owed (a mission within the cotisation), or invoiced before.
        return None
    draft = issue(
        departement=convention.departement,
        year=year,
        sequence=DRAFT_SEQUENCE,
        issued_at=convention.prepared_at,
        document_kind="invoice",
        invoice_kind="mission",
        collectivite=convention.parties.collectivite,
        tariff_version=convention.tariff_version,
        lines=[line],
        source_key=source_key,
        request_id=convention.demande_id,
        assignment_id=convention.assignment_id,
        contract=convention.contract(),
    )
    # What the buyer or EN 16931 would refuse is refused here, before a number is taken.
    await check_before_numbering(uow, [draft])
    [sequence], issued_at = await uow.invoices.take_numbers(convention.departement, year, 1)
    invoice = numbered(draft, sequence, issued_at)
    await uow.invoices.add([invoice])
    await uow.outbox.add(invoice.event(), departement=invoice.departement, caused_by=caused_by)
    return invoice


async def invoice_advance(uow: UnitOfWork, signed: Convention) -> Invoice | None:
    """The advance of the schedule, at the first signature (an avenant adds none: its
    delta is part of the balance)."""
    if signed.version != 0 or len(signed.schedule) < 2:
        return None
    assert signed.signed_at is not None
    line = advance_line(signed, signed.schedule[0])
    key = advance_key(signed.assignment_id)
    return await _issue(uow, signed, line, key, signed.signed_at.year, None)


def _latest_signed(versions: list[Convention]) -> Convention | None:
    signed = [c for c in versions if c.status is ConventionStatus.SIGNEE]
    return signed[-1] if signed else None


async def _unbilled(uow: UnitOfWork, event: AssignmentCompleted, reason: str) -> None:
    await uow.conventions.record_unbilled(
        UnbilledCompletion(
            assignment_id=event.assignment_id,
            demande_id=event.request_id,
            departement=event.departement,
            actor_id=event.actor_id,
            collectivite_code=event.requester_code,
            reason=reason,
            completed_at=event.completed_at,
        )
    )


async def invoice_mission(
    uow: UnitOfWork, event: AssignmentCompleted, envelope: Envelope
) -> Invoice | None:
    """The balance of a completed mission, from its latest signed version; None when
    invoiced before, nothing is owed, there is no signed convention, or the buyer would
    refuse the invoice (then recorded, with the reason, and no number taken)."""
    versions = await uow.conventions.of_assignment(event.assignment_id)
    convention = _latest_signed(versions)
    if convention is None:
        await _unbilled(uow, event, NOT_SIGNED if versions else NO_CONVENTION)
        return None
    advance = await uow.invoices.by_source(advance_key(event.assignment_id))
    already = advance.totals.excl_tax if advance is not None else _ZERO
    label = convention.schedule[-1].label if len(convention.schedule) > 1 else "Prix convenu"
    line = balance_line(convention, already, label)
    key, year = mission_key(event.assignment_id), event.completed_at.year
    try:
        return await _issue(uow, convention, line, key, year, envelope)
    except DomainValidationError as refused:
        # Kept and listed for the team (GET /v1/conventions/unbilled-completions), like a
        # completion without a signed convention, rather than dead-lettered.
        reasons = " ".join(e.message for e in refused.errors)
        await _unbilled(uow, event, f"Facture refusée avant numérotation : {reasons}")
        return None
