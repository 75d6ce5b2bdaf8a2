"""Use cases of the conventions: prepared when a lead actor accepts, sent by the actor or
the département, signed or refused by the collectivité, expired when nobody signed in
time, amended by avenants; read as JSON, HTML or PDF."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from services.billing.domain.convention import (
    DEFAULT_SCHEDULE,
    VALIDITY_MONTHS,
    Convention,
    ConventionFilter,
    ConventionStatus,
    Parties,
    UnbilledCompletion,
    add_months,
    convention_number,
)
from services.billing.domain.convention_document import render_convention_html
from services.billing.domain.convention_pricing import (
    convention_pricing,
    delta_line,
    needs_works_amount,
)
from services.billing.domain.invoice import Collectivite, totals
from services.billing.domain.pricing import PricingError
from services.billing.service_layer.access import readable_departement
from services.billing.service_layer.buyers import account_from_signature
from services.billing.service_layer.convention_access import (
    ensure_convention_reader,
    ensure_may_prepare,
    ensure_signatory,
    listing_filter,
)
from services.billing.service_layer.invoices import count_issued
from services.billing.service_layer.mission_invoices import invoice_advance
from services.billing.service_layer.ports import UnitOfWork
from services.billing.service_layer.tariffs import resolve_tariff
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentAccepted
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS
from shared.errors import Conflict, DomainValidationError, FieldError, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.observability.logging import get_logger
from shared.refdata import Territories

log = get_logger(__name__)


def structure_name(departement: str, territories: Territories) -> str:
    found = territories.departement(departement)
    name = found.nom if found else departement
    return f"Offre d'ingénierie territoriale du département {name} ({departement})"


async def prepare_convention(
    uow: UnitOfWork,
    event: AssignmentAccepted,
    envelope: Envelope,
    territories: Territories,
    now: datetime,
) -> Convention | None:
    """The convention of a demande, when its lead actor accepts; None when there is none
    to prepare (not the lead, an event older than the fields, or prepared before)."""
    if not event.lead or event.requester_code is None or event.requester_kind is None:
        return None
    if await uow.conventions.versions(event.request_id):
        # One convention per demande: a redelivery, or a second lead after a replacement.
        return None
    year = event.accepted_at.year
    version, tariff = await resolve_tariff(uow, event.departement, year, now)
    # Billing's own adhésions decide the rate: the one of the year, in force when the lead
    # actor accepted.
    member = await uow.adhesions.of(year, event.requester_code)
    is_member = member is not None and member.in_force_at(event.accepted_at)
    themes = ", ".join(sorted({THEME_LABELS[n.theme].lower() for n in event.needs})) or "mission"
    phases = tuple(dict.fromkeys(PHASE_LABELS[n.phase] for n in event.needs))
    actor_kind = event.actor_kind or "autre"
    title = f"Mission ({themes})"
    pricing, lines = convention_pricing(tariff, actor_kind, is_member, title)
    found = territories.requester(event.requester_code)
    name = found.nom if found is not None else event.requester_code
    [sequence], prepared_at = await uow.conventions.take_numbers(event.departement, year, 1)
    convention_id = uuid.uuid4()
    convention = Convention(
        id=convention_id,
        base_id=convention_id,
        number=convention_number(event.departement, year, sequence),
        departement=event.departement,
        year=year,
        sequence=sequence,
        version=0,
        demande_id=event.request_id,
        assignment_id=event.assignment_id,
        parties=Parties(
            structure=structure_name(event.departement, territories),
            actor_id=event.actor_id,
            actor_name=event.actor_name,
            actor_kind=actor_kind,
            collectivite=Collectivite(event.requester_code, event.requester_kind, name),
        ),
        object=f"{title} — {', '.join(phases) or 'mission'}",
        phases=phases,
        pricing=pricing,
        lines=tuple(lines),
        totals=totals(lines),
        schedule=DEFAULT_SCHEDULE,
        tariff_version=version,
        status=ConventionStatus.BROUILLON,
        prepared_at=prepared_at,
        valid_until=add_months(prepared_at, VALIDITY_MONTHS),
    )
    await uow.conventions.add(convention, now)
    await uow.outbox.add(convention.event(), departement=convention.departement, caused_by=envelope)
    return convention


async def _locked(uow: UnitOfWork, convention_id: UUID) -> Convention:
    found = await uow.conventions.get(convention_id, lock=True)
    if found is None:
        raise NotFound("Convention introuvable.")
    return found


async def _save(uow: UnitOfWork, convention: Convention, now: datetime) -> Convention:
    await uow.conventions.save(convention, now)
    await uow.outbox.add(convention.event(), departement=convention.departement)
    return convention


async def send_convention(
    uow: UnitOfWork,
    principal: Principal,
    convention_id: UUID,
    now: datetime,
    *,
    estimated_days: Decimal | None = None,
    works_amount: Decimal | None = None,
) -> Convention:
    """Send for signature, repriced on the actor's estimate (days, works) if given."""
    convention = await _locked(uow, convention_id)
    ensure_may_prepare(principal, convention)
    if (estimated_days is not None or works_amount is not None) and convention.version == 0:
        convention = await _repriced(uow, convention, estimated_days, works_amount)
    if needs_works_amount(convention):
        raise DomainValidationError(
            [FieldError("works_amount", "Le montant des travaux est nécessaire à ce tarif.")]
        )
    sent = await _save(uow, convention.send(now), now)
    await uow.commit()
    return sent


async def _repriced(
    uow: UnitOfWork,
    convention: Convention,
    estimated_days: Decimal | None,
    works_amount: Decimal | None,
) -> Convention:
    if convention.status is not ConventionStatus.BROUILLON:
        raise Conflict(f"Cette convention est {convention.status_label} : action impossible.")
    version, tariff = await resolve_tariff(
        uow, convention.departement, convention.year, convention.prepared_at
    )
    title = convention.object.split(" — ", 1)[0]
    try:
        pricing, lines = convention_pricing(
            tariff,
            convention.parties.actor_kind,
            convention.pricing.is_member,
            title,
            estimated_days=estimated_days,
            works_amount=works_amount,
        )
    except PricingError as exc:
        raise DomainValidationError([FieldError("estimated_days", str(exc))]) from exc
    return replace(
        convention,
        pricing=pricing,
        lines=tuple(lines),
        totals=totals(lines),
        tariff_version=version,
    )


async def sign_convention(
    uow: UnitOfWork,
    principal: Principal,
    convention_id: UUID,
    now: datetime,
    *,
    engagement_number: str,
    service_code: str | None,
    siret: str | None,
) -> Convention:
    """The collectivité signs; its SIRET and service code become its buyer account and the
    advance of the schedule is invoiced at once, in the same transaction: an advance the
    buyer would refuse refuses the signature (422), and no number is taken."""
    convention = await _locked(uow, convention_id)
    ensure_signatory(principal, convention)
    signed = await _save(uow, convention.sign(now, engagement_number, service_code, siret), now)
    # The account first: the advance below is checked against what it requires.
    await account_from_signature(uow, signed, now)
    issued = await invoice_advance(uow, signed)
    await uow.commit()
    if issued is not None:
        count_issued([issued])
    return signed


async def refuse_convention(
    uow: UnitOfWork, principal: Principal, convention_id: UUID, reason: str | None, now: datetime
) -> Convention:
    convention = await _locked(uow, convention_id)
    ensure_signatory(principal, convention)
    refused = await _save(uow, convention.refuse(now, reason), now)
    await uow.commit()
    return refused


async def amend_convention(
    uow: UnitOfWork,
    principal: Principal,
    convention_id: UUID,
    price_delta: Decimal,
    reason: str,
    now: datetime,
) -> Convention:
    """An avenant to the latest signed version: a new version to send and sign."""
    convention = await _locked(uow, convention_id)
    ensure_may_prepare(principal, convention)
    versions = await uow.conventions.versions(convention.demande_id)
    latest = versions[-1]
    if latest.id != convention.id:
        raise Conflict(f"La convention a une version plus récente : {latest.number}.")
    if convention.totals.excl_tax + price_delta < 0:
        raise DomainValidationError(
            [FieldError("price_delta", "Le prix après avenant ne peut pas être négatif.")]
        )
    version = convention.version + 1
    avenant = convention.amendment(
        version=version,
        delta_line=delta_line(convention, version, price_delta, reason),
        reason=reason,
        now=now,
        valid_until=add_months(now, VALIDITY_MONTHS),
    )
    await uow.conventions.add(avenant, now)
    await uow.outbox.add(avenant.event(amended=convention), departement=avenant.departement)
    await uow.commit()
    return avenant


async def expire_due(uow: UnitOfWork, now: datetime, limit: int = 100) -> list[Convention]:
    """Expire the unsigned versions past their validity (the clock is the caller's)."""
    due = await uow.conventions.due_for_expiry(now, limit)
    expired = [await _save(uow, c.expire(now), now) for c in due]
    await uow.commit()
    if expired:
        log.info("conventions expired", count=len(expired))
    return expired


async def read_convention(uow: UnitOfWork, principal: Principal, convention_id: UUID) -> Convention:
    found = await uow.conventions.get(convention_id)
    if found is None:
        raise NotFound("Convention introuvable.")
    ensure_convention_reader(principal, found)
    return found


async def list_conventions(
    uow: UnitOfWork,
    principal: Principal,
    *,
    departement: str | None,
    status: ConventionStatus | None,
    demande_id: UUID | None,
    limit: int,
    offset: int,
) -> list[Convention]:
    criteria: ConventionFilter = listing_filter(principal, departement, status, demande_id)
    return await uow.conventions.search(criteria, limit=limit, offset=offset)


async def convention_document(
    uow: UnitOfWork, principal: Principal, convention_id: UUID
) -> tuple[Convention, str]:
    """The convention and its page in French; an avenant names the version it amends."""
    found = await read_convention(uow, principal, convention_id)
    amended = await uow.conventions.get(found.amends_id) if found.amends_id else None
    return found, render_convention_html(found, amended.number if amended else None)


async def list_unbilled(
    uow: UnitOfWork, principal: Principal, departement: str | None, limit: int, offset: int
) -> list[UnbilledCompletion]:
    """Completed missions no invoice follows, for the team to chase their conventions."""
    if principal.role not in (Role.DEPARTEMENT, Role.ADMIN):
        raise Forbidden("Réservé à l'équipe du département.")
    scope = readable_departement(principal, departement)
    return await uow.conventions.unbilled(scope, limit, offset)
