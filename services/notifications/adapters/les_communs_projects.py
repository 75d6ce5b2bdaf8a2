"""Our projects' publication to Les Communs, one row per project: its newest state, and
how far its publication went. The publisher claims the due rows here."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.orm import les_communs_projects as table
from services.notifications.domain.les_communs import DueProject, ProjectState, PublishedProject


def _published(row: Any) -> PublishedProject:
    return PublishedProject(
        project_id=row.project_id,
        departement=row.departement,
        revision=row.revision,
        sent_revision=row.sent_revision,
        status=row.status,
        phase=row.body.get("phase", ""),
        phase_status=row.body.get("phaseStatut", ""),
        attempts=row.attempts,
        les_communs_id=row.les_communs_id,
        last_error=row.last_error,
        sent_at=row.sent_at,
    )


class SqlLesCommunsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def follow(self, state: ProjectState, now: datetime) -> bool:
        """Keep the newer state; False when this one is not newer than the stored one."""
        values = {
            "project_id": state.project_id,
            "departement": state.departement,
            "revision": state.revision,
            "body": state.body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "updated_at": now,
        }
        insert = pg_insert(table).values(**values)
        result = await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[table.c.project_id],
                set_={
                    k: insert.excluded[k]
                    for k in ("revision", "body", "status", "attempts", "next_attempt_at")
                }
                | {"updated_at": now},
                where=table.c.revision < insert.excluded.revision,
            ).returning(table.c.project_id)
        )
        return result.scalar_one_or_none() is not None

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[DueProject]:
        rows = (
            await self._session.execute(
                select(table)
                .where(table.c.status == "pending", table.c.next_attempt_at <= now)
                .order_by(table.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if rows:
            # The lease: if this instance dies mid-send, the row is due again after it.
            await self._session.execute(
                update(table)
                .where(table.c.project_id.in_([r.project_id for r in rows]))
                .values(next_attempt_at=lease_until)
            )
        return [
            DueProject(r.project_id, r.departement, r.revision, r.body, r.attempts) for r in rows
        ]

    async def mark_sent(
        self, project_id: UUID, revision: int, les_communs_id: str, now: datetime
    ) -> None:
        # A newer state that arrived during the send stays pending, due at once.
        await self._session.execute(
            update(table)
            .where(table.c.project_id == project_id)
            .values(
                sent_revision=func.greatest(table.c.sent_revision, revision),
                status=case((table.c.revision <= revision, "sent"), else_="pending"),
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                les_communs_id=les_communs_id,
                sent_at=now,
                updated_at=now,
            )
        )

    async def mark_retry(self, project_id: UUID, at: datetime, error: str) -> None:
        await self._session.execute(
            update(table)
            .where(table.c.project_id == project_id)
            .values(attempts=table.c.attempts + 1, next_attempt_at=at, last_error=error)
        )

    async def mark_dead(self, project_id: UUID, error: str, now: datetime) -> None:
        await self._session.execute(
            update(table)
            .where(table.c.project_id == project_id)
            .values(
                status="dead_lettered",
                attempts=table.c.attempts + 1,
                last_error=error,
                updated_at=now,
            )
        )

    async def listing(self, departement: str | None, limit: int) -> list[PublishedProject]:
        query = select(table).order_by(table.c.updated_at.desc()).limit(limit)
        if departement is not None:
            query = query.where(table.c.departement == departement)
        return [_published(r) for r in (await self._session.execute(query)).all()]
