"""Buyer accounts in PostgreSQL: one per département and collectivité, changed in place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.orm import buyer_accounts
from services.billing.domain.buyers import BuyerAccount
from services.billing.domain.invoice import Collectivite
from shared.contracts.vocabulary import RequesterKind


def _account(row: Any) -> BuyerAccount:
    return BuyerAccount(
        siret=row.siret,
        service_code=row.service_code,
        service_code_required=row.service_code_required,
        engagement_required=row.engagement_required,
        service_or_engagement_required=row.service_or_engagement_required,
        departement=row.departement,
        collectivite=Collectivite(
            row.collectivite_code, RequesterKind(row.collectivite_kind), row.collectivite_name
        ),
        services=tuple(row.services),
        updated_at=row.updated_at,
        source=row.source,
    )


class SqlBuyerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self, departement: str, collectivite_code: str, *, lock: bool = False
    ) -> BuyerAccount | None:
        query = select(buyer_accounts).where(
            buyer_accounts.c.departement == departement,
            buyer_accounts.c.collectivite_code == collectivite_code,
        )
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _account(row) if row else None

    async def of_collectivites(self, departement: str, codes: list[str]) -> list[BuyerAccount]:
        query = select(buyer_accounts).where(
            buyer_accounts.c.departement == departement,
            buyer_accounts.c.collectivite_code.in_(codes),
        )
        return [_account(row) for row in (await self._session.execute(query)).all()]

    async def save(self, account: BuyerAccount) -> None:
        assert account.collectivite is not None
        values = {
            "siret": account.siret,
            "collectivite_kind": account.collectivite.kind.value,
            "collectivite_name": account.collectivite.name,
            "service_code": account.service_code,
            "service_code_required": account.service_code_required,
            "engagement_required": account.engagement_required,
            "service_or_engagement_required": account.service_or_engagement_required,
            "services": list(account.services),
            "source": account.source,
            "updated_at": account.updated_at,
        }
        await self._session.execute(
            pg_insert(buyer_accounts)
            .values(
                departement=account.departement,
                collectivite_code=account.collectivite.code,
                **values,
            )
            .on_conflict_do_update(index_elements=["departement", "collectivite_code"], set_=values)
        )

    async def search(
        self, departement: str | None, *, limit: int | None, offset: int
    ) -> list[BuyerAccount]:
        query = select(buyer_accounts).order_by(
            buyer_accounts.c.departement, buyer_accounts.c.collectivite_code
        )
        if departement is not None:
            query = query.where(buyer_accounts.c.departement == departement)
        query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [_account(row) for row in (await self._session.execute(query)).all()]

    async def with_siret(self, sirets: list[str]) -> list[BuyerAccount]:
        if not sirets:
            return []
        query = (
            select(buyer_accounts)
            .where(buyer_accounts.c.siret.in_(sirets))
            .order_by(buyer_accounts.c.departement, buyer_accounts.c.collectivite_code)
            .with_for_update()
        )
        return [_account(row) for row in (await self._session.execute(query)).all()]
