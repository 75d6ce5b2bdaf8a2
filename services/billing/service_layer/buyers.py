"""Use cases of the buyer accounts (ADR 0017): set by the département's team, or by the
collectivité when it signs a convention, completed by the Chorus Pro directory; read by
the Factur-X files and checked before an invoice number is taken.

Every change is published on ``billing.buyer.v1`` in the same transaction; storing an
account as it already is publishes nothing, so that a second import changes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from services.billing.domain.adhesion import collectivite_of
from services.billing.domain.buyers import AccountSource, BuyerAccount, account_siret
from services.billing.domain.chorus_directory import DirectoryEntry
from services.billing.domain.convention import Convention
from services.billing.domain.einvoice import check_issuable, references_of
from services.billing.domain.identities import References
from services.billing.domain.invoice import Invoice
from services.billing.service_layer.access import ensure_team, readable_departement
from services.billing.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.errors import Forbidden, NotFound
from shared.refdata import Territories


async def _store(uow: UnitOfWork, account: BuyerAccount, before: BuyerAccount | None) -> bool:
    """Save and publish ``account`` unless nothing changed; whether it changed."""
    if account.same_as(before):
        return False
    await uow.buyers.save(account)
    await uow.outbox.add(account.event(), departement=account.departement)
    return True


async def register_buyer(
    uow: UnitOfWork,
    principal: Principal,
    departement: str,
    collectivite_code: str,
    *,
    siret: str,
    service_code: str | None,
    service_code_required: bool | None,
    engagement_required: bool | None,
    territories: Territories,
    now: datetime,
) -> BuyerAccount:
    """The département's team sets the account; flags left out keep their value (the
    directory's, if imported)."""
    ensure_team(principal, departement)
    who = collectivite_of(collectivite_code, departement, territories)
    before = await uow.buyers.get(departement, collectivite_code, lock=True)
    account = BuyerAccount(
        siret=account_siret(siret),
        service_code=service_code,
        service_code_required=(
            service_code_required
            if service_code_required is not None
            else bool(before and before.service_code_required)
        ),
        engagement_required=(
            engagement_required
            if engagement_required is not None
            else bool(before and before.engagement_required)
        ),
        # Only the directory says this one (no field of the API).
        service_or_engagement_required=bool(before and before.service_or_engagement_required),
        departement=departement,
        collectivite=who,
        services=before.services if before else (),
        updated_at=now,
        source="api",
    ).checked()
    changed = await _store(uow, account, before)
    await uow.commit()
    return account if changed or before is None else before


async def account_from_signature(uow: UnitOfWork, signed: Convention, now: datetime) -> None:
    """The SIRET and service code a collectivité gave when signing become its account, in
    the signature's transaction (an account without SIRET cannot exist: a signature
    without one only updates the service code of an existing account)."""
    who = signed.parties.collectivite
    before = await uow.buyers.get(signed.departement, who.code, lock=True)
    siret = signed.parties.siret or (before.siret if before else None)
    if siret is None:
        return
    base = before or BuyerAccount(siret=siret, departement=signed.departement, collectivite=who)
    account = dataclasses.replace(
        base,
        siret=siret,
        service_code=signed.service_code or base.service_code,
        collectivite=who,
        updated_at=now,
        source="convention",
    ).checked()
    await _store(uow, account, before)


async def read_buyer(
    uow: UnitOfWork, principal: Principal, departement: str | None, collectivite_code: str
) -> BuyerAccount:
    """An account, for the team of its département (or a collectivité, its own)."""
    if principal.role is Role.COLLECTIVITE and principal.scope != collectivite_code:
        raise Forbidden("Ce compte est celui d'une autre collectivité.")
    scope = readable_departement(principal, departement or principal.departement)
    found = await uow.buyers.get(scope or "", collectivite_code)
    if found is None:
        raise NotFound(
            f"Aucun compte acheteur (Chorus Pro) pour la collectivité {collectivite_code}."
        )
    return found


async def list_buyers(
    uow: UnitOfWork, principal: Principal, departement: str | None, limit: int, offset: int
) -> list[BuyerAccount]:
    if principal.role not in (Role.DEPARTEMENT, Role.ADMIN):
        raise Forbidden("Réservé à l'équipe du département.")
    return await uow.buyers.search(
        readable_departement(principal, departement), limit=limit, offset=offset
    )


async def accounts_of(uow: UnitOfWork, drafts: list[Invoice]) -> dict[str, BuyerAccount]:
    """The stored accounts of the drafts' collectivités (one département), by code."""
    if not drafts:
        return {}
    codes = sorted({d.collectivite.code for d in drafts})
    found = await uow.buyers.of_collectivites(drafts[0].departement, codes)
    return {a.collectivite.code: a for a in found if a.collectivite is not None}


def check_draft(
    draft: Invoice, account: BuyerAccount | None, references: References | None = None
) -> None:
    """Refuse a draft EN 16931 or its buyer would refuse: its sums, and what the
    collectivité's stored account requires (a service code, an engagement number) and
    its identifiers. Pure: the caller has read the account."""
    contract = draft.contract
    buyer = (
        account.buyer(draft.collectivite, contract.service_code if contract else None)
        if account
        else None
    )
    check_issuable(draft, buyer, references or references_of(draft))


async def check_before_numbering(
    uow: UnitOfWork, drafts: list[Invoice], references: References | None = None
) -> None:
    """:func:`check_draft` for each draft, before any number is taken."""
    accounts = await accounts_of(uow, drafts)
    for draft in drafts:
        check_draft(draft, accounts.get(draft.collectivite.code), references)


@dataclass(slots=True)
class ImportCounts:
    structures: int = 0
    matched: int = 0
    changed: int = 0
    unknown: int = 0


async def import_directory(
    uow: UnitOfWork, entries: list[DirectoryEntry], now: datetime, counts: ImportCounts
) -> None:
    """Set the requirements and services of the accounts invoicing these SIRETs, in one
    transaction. Accounts already as the directory says are left alone, so a second
    import changes and publishes nothing."""
    by_siret = {e.siret: e for e in entries}
    accounts = await uow.buyers.with_siret(sorted(by_siret))
    seen = {a.siret for a in accounts}
    counts.structures += len(by_siret)
    counts.unknown += len(by_siret.keys() - seen)
    source: AccountSource = "directory"
    for before in accounts:
        entry = by_siret[before.siret]
        account = dataclasses.replace(
            before,
            service_code_required=entry.service_code_required,
            engagement_required=entry.engagement_required,
            service_or_engagement_required=entry.service_or_engagement_required,
            services=entry.services,
            updated_at=now,
            source=source,
        )
        counts.matched += 1
        if await _store(uow, account, before):
            counts.changed += 1
    await uow.commit()
