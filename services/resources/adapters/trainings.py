"""Training sessions and registrations in PostgreSQL.

Every change of a session's seats happens with the session's row locked
(``get_session(for_update=True)``, ``SELECT … FOR UPDATE``): concurrent registrations
to one session queue there, one at a time, so each sees the seats the previous one left.
The ``training_sessions_no_overbooking`` check constraint refuses, in any case, a
session holding more participants than seats.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.resources.adapters.orm import registrations, training_sessions
from services.resources.domain.trainings import Registration, ReminderDue, TrainingSession
from shared.contracts.resources import Audience, RegistrationStatus
from shared.contracts.vocabulary import Theme


def _session(row: Any) -> TrainingSession:
    return TrainingSession(
        id=row.id,
        departement=row.departement,
        actor_id=row.actor_id,
        title=row.title,
        description=row.description,
        themes=[Theme(t) for t in row.themes],
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        online=row.online,
        place=row.place,
        seats=row.seats,
        seats_taken=row.seats_taken,
        audience=[Audience(a) for a in row.audience],
        price_member=row.price_member,
        price_non_member=row.price_non_member,
        created_at=row.created_at,
    )


def _registration(row: Any) -> Registration:
    return Registration(
        id=row.id,
        session_id=row.session_id,
        departement=row.departement,
        collectivite_code=row.collectivite_code,
        participants=list(row.participants),
        status=RegistrationStatus(row.status),
        registered_at=row.registered_at,
        position=row.position,
        promoted_at=row.promoted_at,
        cancelled_at=row.cancelled_at,
        present=list(row.present) if row.present is not None else None,
        attendance_at=row.attendance_at,
    )


class SqlTrainingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_session(self, training: TrainingSession) -> None:
        await self._session.execute(
            insert(training_sessions).values(
                id=training.id,
                departement=training.departement,
                actor_id=training.actor_id,
                title=training.title,
                description=training.description,
                themes=[t.value for t in training.themes],
                starts_at=training.starts_at,
                ends_at=training.ends_at,
                online=training.online,
                place=training.place,
                seats=training.seats,
                seats_taken=training.seats_taken,
                audience=[a.value for a in training.audience],
                price_member=training.price_member,
                price_non_member=training.price_non_member,
                created_at=training.created_at,
            )
        )

    async def get_session(
        self, session_id: UUID, *, for_update: bool = False
    ) -> TrainingSession | None:
        query = select(training_sessions).where(training_sessions.c.id == session_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _session(row) if row is not None else None

    async def upcoming(self, departement: str | None, after: datetime) -> list[TrainingSession]:
        query = select(training_sessions).where(training_sessions.c.starts_at > after)
        if departement is not None:
            query = query.where(training_sessions.c.departement == departement)
        rows = await self._session.execute(
            query.order_by(training_sessions.c.starts_at, training_sessions.c.id)
        )
        return [_session(r) for r in rows.all()]

    async def save_seats(self, training: TrainingSession) -> None:
        await self._session.execute(
            update(training_sessions)
            .where(training_sessions.c.id == training.id)
            .values(seats_taken=training.seats_taken)
        )

    async def add_registration(self, registration: Registration) -> int:
        """Store it; returns its position in the order of arrival."""
        result = await self._session.execute(
            insert(registrations)
            .values(
                id=registration.id,
                session_id=registration.session_id,
                departement=registration.departement,
                collectivite_code=registration.collectivite_code,
                participants=registration.participants,
                status=registration.status.value,
                registered_at=registration.registered_at,
            )
            .returning(registrations.c.position)
        )
        return int(result.scalar_one())

    async def get_registration(self, registration_id: UUID) -> Registration | None:
        row = (
            await self._session.execute(
                select(registrations).where(registrations.c.id == registration_id)
            )
        ).one_or_none()
        return _registration(row) if row is not None else None

    async def registrations(
        self, session_id: UUID, status: RegistrationStatus | None = None
    ) -> list[Registration]:
        query = select(registrations).where(registrations.c.session_id == session_id)
        if status is not None:
            query = query.where(registrations.c.status == status.value)
        rows = await self._session.execute(query.order_by(registrations.c.position))
        return [_registration(r) for r in rows.all()]

    async def save_registration(self, registration: Registration) -> None:
        await self._session.execute(
            update(registrations)
            .where(registrations.c.id == registration.id)
            .values(
                status=registration.status.value,
                promoted_at=registration.promoted_at,
                cancelled_at=registration.cancelled_at,
                present=registration.present,
                attendance_at=registration.attendance_at,
            )
        )

    async def claim_reminders(self, days_before: int, now: datetime) -> list[ReminderDue]:
        """Mark, and return, the confirmed registrations whose session starts within
        ``days_before`` days (the 7-day reminder: and more than a day from now) and that
        had no such reminder. One UPDATE: two instances never claim the same one."""
        column = (
            registrations.c.reminded_7d_at if days_before == 7 else registrations.c.reminded_1d_at
        )
        window = training_sessions.c.starts_at <= now + timedelta(days=days_before)
        after = now + timedelta(days=1) if days_before == 7 else now
        claimed = await self._session.execute(
            update(registrations)
            .where(
                registrations.c.session_id == training_sessions.c.id,
                registrations.c.status == RegistrationStatus.REGISTERED.value,
                column.is_(None),
                training_sessions.c.starts_at > after,
                window,
            )
            .values({column.name: now})
            .returning(
                *registrations.c,
                training_sessions.c.title,
                training_sessions.c.starts_at,
                training_sessions.c.online,
                training_sessions.c.place,
            )
        )
        due = [
            ReminderDue(_registration(r), days_before, r.title, r.starts_at, r.online, r.place)
            for r in claimed.all()
        ]
        return sorted(due, key=lambda d: d.registration.position)
