"""The one rule for claiming reminders that are due, whatever they remind of: not sent yet,
their time come, their deadline not passed, oldest first, and rows another instance
already claimed skipped rather than waited for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.ext.asyncio import AsyncSession


async def claim_due(
    session: AsyncSession,
    table: Table,
    *,
    deadline: str,
    now: datetime,
    limit: int,
    still_open: ColumnElement[bool],
) -> Sequence[Any]:
    rows = await session.execute(
        select(table)
        .where(
            still_open,
            table.c.reminded_at.is_(None),
            table.c.remind_at <= now,
            table.c[deadline] > now,
        )
        .order_by(table.c.remind_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return rows.all()
