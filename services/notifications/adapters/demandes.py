"""The demandes this service heard of, and the proposals made for them: its projection
of the requests and matching events, which addresses messages and times reminders and
follow-ups."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.due_reminders import claim_due
from services.notifications.adapters.orm import demandes, proposals, requester_contacts
from services.notifications.domain.rules import DemandeCard, RequesterContact
from services.notifications.domain.views import DueProposal


def _card(row: Any) -> DemandeCard:
    return DemandeCard(
        request_id=row.request_id,
        departement=row.departement,
        requester_code=row.requester_code,
        requester_name=row.requester_name,
        contact_name=row.contact_name,
        contact_email=row.contact_email,
        title=row.title,
        correlation_id=row.correlation_id,
        contact_id=row.contact_id,
    )


class SqlDemandeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, request_id: UUID) -> None:
        # Its submission and the events that name it arrive on different topics, so
        # possibly at the same time.
        await self._session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"mg-notifications:{request_id}")))
        )

    async def add(self, card: DemandeCard, submitted_at: datetime, now: datetime) -> bool:
        inserted = await self._session.execute(
            pg_insert(demandes)
            .values(
                request_id=card.request_id,
                departement=card.departement,
                requester_code=card.requester_code,
                requester_name=card.requester_name,
                contact_id=card.contact_id,
                contact_name=card.contact_name,
                contact_email=card.contact_email,
                title=card.title,
                status="open",
                correlation_id=card.correlation_id,
                submitted_at=submitted_at,
                last_news_at=now,
            )
            .on_conflict_do_nothing()
            .returning(demandes.c.request_id)
        )
        return inserted.scalar_one_or_none() is not None

    async def get(self, request_id: UUID) -> DemandeCard | None:
        row = (
            await self._session.execute(select(demandes).where(demandes.c.request_id == request_id))
        ).one_or_none()
        return _card(row) if row else None

    async def contact(self, contact_id: UUID) -> RequesterContact | None:
        row = (
            await self._session.execute(
                select(requester_contacts).where(requester_contacts.c.contact_id == contact_id)
            )
        ).one_or_none()
        return RequesterContact(**row._asdict()) if row else None

    async def record_contact(self, contact: RequesterContact) -> list[DemandeCard]:
        values = asdict(contact)
        await self._session.execute(
            pg_insert(requester_contacts)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[requester_contacts.c.contact_id],
                set_={k: v for k, v in values.items() if k != "contact_id"},
                # A replayed older record never overwrites a newer one.
                where=requester_contacts.c.recorded_at <= contact.recorded_at,
            )
        )
        filled = await self._session.execute(
            update(demandes)
            .where(demandes.c.contact_id == contact.contact_id, demandes.c.contact_email.is_(None))
            .values(contact_name=contact.name, contact_email=contact.email)
            .returning(*demandes.c)
        )
        return [_card(row) for row in filled.all()]

    async def latest_of(self, requester_code: str, departement: str) -> DemandeCard | None:
        row = (
            await self._session.execute(
                select(demandes)
                .where(
                    demandes.c.requester_code == requester_code,
                    demandes.c.departement == departement,
                )
                .order_by(demandes.c.submitted_at.desc())
                .limit(1)
            )
        ).one_or_none()
        return _card(row) if row else None

    async def record_news(self, request_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(demandes)
            .where(demandes.c.request_id == request_id, demandes.c.last_news_at < now)
            .values(last_news_at=now)
        )

    async def set_status(self, request_id: UUID, status: str) -> None:
        await self._session.execute(
            update(demandes).where(demandes.c.request_id == request_id).values(status=status)
        )

    async def due_follow_ups(
        self, news_before: datetime, limit: int
    ) -> list[tuple[DemandeCard, datetime]]:
        # SKIP LOCKED: several instances scan at once without taking the same demande.
        rows = await self._session.execute(
            select(demandes)
            .where(demandes.c.status == "open", demandes.c.last_news_at <= news_before)
            .order_by(demandes.c.last_news_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [(_card(r), r.last_news_at) for r in rows.all()]

    # --- proposals ---------------------------------------------------------------------
    async def add_proposal(
        self, proposal: DueProposal, remind_at: datetime | None, now: datetime
    ) -> bool:
        inserted = await self._session.execute(
            pg_insert(proposals)
            .values(
                **asdict(proposal),
                status="proposed",
                remind_at=remind_at,
                updated_at=now,
            )
            .on_conflict_do_nothing()
            .returning(proposals.c.assignment_id)
        )
        return inserted.scalar_one_or_none() is not None

    async def set_proposal_status(self, assignment_id: UUID, status: str, now: datetime) -> None:
        await self._session.execute(
            update(proposals)
            .where(proposals.c.assignment_id == assignment_id)
            .values(status=status, updated_at=now)
        )

    async def open_proposals(self, request_id: UUID) -> int:
        count = await self._session.execute(
            select(func.count()).where(
                proposals.c.request_id == request_id,
                proposals.c.status.in_(("proposed", "accepted")),
            )
        )
        return int(count.scalar_one())

    async def due_reminders(self, now: datetime, limit: int) -> list[DueProposal]:
        rows = await claim_due(
            self._session,
            proposals,
            deadline="respond_by",
            now=now,
            limit=limit,
            still_open=proposals.c.status == "proposed",
        )
        return [
            DueProposal(
                assignment_id=r.assignment_id,
                request_id=r.request_id,
                departement=r.departement,
                actor_id=r.actor_id,
                actor_name=r.actor_name,
                respond_by=r.respond_by,
            )
            for r in rows
        ]

    async def mark_reminded(self, assignment_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(proposals)
            .where(proposals.c.assignment_id == assignment_id)
            .values(reminded_at=now, updated_at=now)
        )
