"""Use cases of the tariffs: the one in force, and publishing a new version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.billing.domain.shipped_tariffs import tariff_for
from services.billing.domain.tariff import Tariff, tariff_to_dict
from services.billing.domain.tariff_parsing import parse_tariff
from services.billing.service_layer.access import ensure_team, readable_departement
from services.billing.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal
from shared.errors import NotFound
from shared.refdata import Territories


async def resolve_tariff(
    uow: UnitOfWork, departement: str, year: int, now: datetime
) -> tuple[int, Tariff]:
    """The tariff in force; the shipped or reference one is stored at first use, so that
    every invoice points at a version that will never change."""
    # Two instances using a tariff first must not both store it.
    await uow.tariffs.lock(departement, year)
    stored = await uow.tariffs.latest(departement, year)
    if stored is not None:
        version, document = stored
        return version, parse_tariff(document)
    tariff = tariff_for(departement, year)
    version = await uow.tariffs.add_version(
        departement, year, tariff_to_dict(tariff), "tarif livré", now
    )
    return version, tariff


async def publish_tariff(
    uow: UnitOfWork, principal: Principal, document: dict[str, Any], now: datetime
) -> tuple[int, Tariff]:
    # A team publishes for its own département only, whatever the document says.
    tariff = parse_tariff(document, departement=principal.departement)
    ensure_team(principal, tariff.departement)
    version = await uow.tariffs.add_version(
        tariff.departement, tariff.year, tariff_to_dict(tariff), principal.subject, now
    )
    await uow.commit()
    return version, tariff


async def tariff_in_force(
    uow: UnitOfWork,
    principal: Principal,
    departement: str,
    year: int,
    territories: Territories,
    now: datetime,
) -> tuple[int, Tariff]:
    """The tariff a département's team or the administration reads; stored if first used."""
    readable_departement(principal, departement)
    if territories.departement(departement) is None:
        raise NotFound("Département inconnu.")
    found = await resolve_tariff(uow, departement, year, now)
    await uow.commit()
    return found
