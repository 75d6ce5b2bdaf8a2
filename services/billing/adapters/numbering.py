"""Gapless numbering per département and year, for every numbered document of billing
(invoices and credit notes, conventions): one mechanism, one counter table per series.

The counter row's lock is held until commit, so numbers are given one transaction at a
time; a rolled-back transaction gives its numbers back with the lock, so a series has
no gap and no duplicate, under concurrency and across a ``kill -9``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession


class GaplessNumbering:
    def __init__(self, session: AsyncSession, counters: Table) -> None:
        self._session = session
        self._counters = counters

    async def lock(self, departement: str, year: int) -> int:
        """Lock the numbering of a département and year until commit; the last number.

        Whoever numbers for that département and year waits here, so what it reads
        after (members to invoice, numbers) cannot change under it.
        """
        counters = self._counters
        await self._session.execute(
            pg_insert(counters)
            .values(departement=departement, year=year, last_number=0)
            .on_conflict_do_nothing()
        )
        last = (
            await self._session.execute(
                select(counters.c.last_number)
                .where(counters.c.departement == departement, counters.c.year == year)
                .with_for_update()
            )
        ).scalar_one()
        return int(last)

    async def take(self, departement: str, year: int, count: int) -> tuple[range, datetime]:
        """Reserve ``count`` consecutive numbers, and the time of issue.

        The time is read after the lock, so numbers and issue times go up together.
        """
        last = await self.lock(departement, year)
        counters = self._counters
        await self._session.execute(
            update(counters)
            .where(counters.c.departement == departement, counters.c.year == year)
            .values(last_number=last + count)
        )
        now = (await self._session.execute(text("SELECT clock_timestamp()"))).scalar_one()
        return range(last + 1, last + count + 1), now
