"""Races between two billing instances found while writing the numbering test, pinned:
the first use of a tariff, and two cotisation batches of one département."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from services.billing.adapters.unit_of_work import BillingUnitOfWork
from services.billing.service_layer.adhesions import enrol
from services.billing.service_layer.cotisation_run import invoice_cotisations
from services.billing.service_layer.tariffs import resolve_tariff
from shared.db.engine import make_engine, make_session_factory
from shared.refdata import get_territories

pytestmark = [pytest.mark.postgres]


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
def test_two_instances_using_a_tariff_first_store_one_version(billing_database_url: str) -> None:
    assert asyncio.run(_first_use_of_a_tariff_twice(billing_database_url)) == 1


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
def test_two_concurrent_batches_of_one_departement_share_the_members(
    billing_database_url: str,
) -> None:
    assert asyncio.run(_two_batches_of_one_departement(billing_database_url)) == (10, 10)
