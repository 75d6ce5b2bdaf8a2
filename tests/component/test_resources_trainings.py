"""Registrations to a training session on the real PostgreSQL: never more participants
than seats, whatever the concurrency, and the waiting list promoted in arrival order."""

from __future__ import annotations

import asyncio
import io
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services.resources import bootstrap
from services.resources.adapters.orm import registrations, training_sessions
from services.resources.domain.trainings import Registration
from services.resources.service_layer import training_follow_up, trainings
from shared.auth.tokens import Principal, Role
from shared.contracts.resources import (
    Audience,
    RegistrationPromoted,
    RegistrationRecorded,
    RegistrationReminderDue,
    RegistrationStatus,
)
from shared.contracts.vocabulary import Theme
from shared.errors import Conflict, DomainValidationError, Forbidden
from shared.messaging.tables import OUTBOX
from shared.refdata import get_territories
from tests.component.resources_setup import ResourcesDatabase, resources_db

__all__ = ["resources_db"]

pytestmark = [pytest.mark.postgres]

CAUE = Principal(Role.ACTOR, "caue", "49", "caue-49")
TEAM_49 = Principal(Role.DEPARTEMENT, "team-49", "49")


async def offer(db: ResourcesDatabase, seats: int, days_ahead: int = 30) -> UUID:
    now = datetime.now(UTC)
    draft = trainings.SessionDraft(
        title="Assainissement non collectif : le rôle du maire",
        description="Une matinée pour les élus des petites communes.",
        themes=[Theme.EAU_ASSAINISSEMENT],
        starts_at=now + timedelta(days=days_ahead),
        ends_at=now + timedelta(days=days_ahead, hours=3),
        online=False,
        place="Maison du Département, Angers",
        seats=seats,
        audience=[Audience.ELUS],
        price_member=Decimal("0"),
        price_non_member=Decimal("45.5"),
    )
    async with db.new_uow() as uow:
        training = await trainings.offer_session(uow, CAUE, uuid4(), draft, now)
    assert training.price_non_member == Decimal("45.50")
    return training.id


def collectivites(n: int) -> list[str]:
    return [c.code_insee for c in get_territories().communes_of("49")[:n]]


async def register_one(db: ResourcesDatabase, session_id: UUID, code: str) -> Registration:
    mairie = Principal(Role.COLLECTIVITE, f"mairie-{code}", "49", code)
    async with db.new_uow() as uow:
        return await trainings.register(
            uow, mairie, session_id, uuid4(), [f"Élu de {code}"], datetime.now(UTC)
        )


async def statuses(db: ResourcesDatabase, session_id: UUID) -> list[tuple[str, str]]:
    async with db.new_uow() as uow:
        rows = await uow.session.execute(
            select(registrations.c.collectivite_code, registrations.c.status)
            .where(registrations.c.session_id == session_id)
            .order_by(registrations.c.position)
        )
        return [(r.collectivite_code, r.status) for r in rows.all()]


async def test_fifty_concurrent_registrations_for_twenty_seats(
    resources_db: ResourcesDatabase,
) -> None:
    session_id = await offer(resources_db, seats=20)
    codes = collectivites(50)
    started = time.perf_counter()
    done = await asyncio.gather(*(register_one(resources_db, session_id, c) for c in codes))
    elapsed = time.perf_counter() - started
    registered = [r for r in done if r.status is RegistrationStatus.REGISTERED]
    waiting = [r for r in done if r.status is RegistrationStatus.WAITING]
    print(
        f"\n50 concurrent registrations in {elapsed:.2f} s: "
        f"{len(registered)} registered, {len(waiting)} waiting"
    )
    assert (len(registered), len(waiting)) == (20, 30)
    # The first 20 to take the session's lock have the seats, the 30 after them wait.
    by_position = sorted(done, key=lambda r: r.position)
    assert all(r.status is RegistrationStatus.REGISTERED for r in by_position[:20])
    assert all(r.status is RegistrationStatus.WAITING for r in by_position[20:])
    async with resources_db.new_uow() as uow:
        training = await uow.trainings.get_session(session_id)
        assert training is not None
        assert training.seats_taken == 20
        recorded = await uow.session.execute(
            select(OUTBOX.c.payload).where(OUTBOX.c.event_type == RegistrationRecorded.event_type)
        )
        # One event per registration, in the same transaction as the registration.
        assert sum(str(session_id).encode() in row.payload for row in recorded.all()) == 50

    # Cancellations promote the waiting list in order of arrival, one seat each.
    waiting_in_order = [r.id for r in by_position[20:]]
    promoted: list[UUID] = []
    for cancelled in by_position[:5]:
        async with resources_db.new_uow() as uow:
            moved = await trainings.cancel_registration(
                uow, TEAM_49, cancelled.id, datetime.now(UTC)
            )
        promoted += [m.id for m in moved]
    print(f"5 cancellations promoted positions {[waiting_in_order.index(p) for p in promoted]}")
    assert promoted == waiting_in_order[:5]
    # Cancelling twice frees nothing more.
    async with resources_db.new_uow() as uow:
        again = await trainings.cancel_registration(
            uow, TEAM_49, by_position[0].id, datetime.now(UTC)
        )
    assert again == []
    final = await statuses(resources_db, session_id)
    assert [s for _, s in final].count("registered") == 20
    assert [s for _, s in final].count("waiting") == 25
    assert [s for _, s in final].count("cancelled") == 5


async def test_concurrent_cancellations_and_registrations_never_overbook(
    resources_db: ResourcesDatabase,
) -> None:
    session_id = await offer(resources_db, seats=5)
    codes = collectivites(30)
    first = await asyncio.gather(*(register_one(resources_db, session_id, c) for c in codes[:15]))
    holders = sorted(
        (r for r in first if r.status is RegistrationStatus.REGISTERED), key=lambda r: r.position
    )

    async def cancel(registration: Registration) -> list[Registration]:
        async with resources_db.new_uow() as uow:
            return await trainings.cancel_registration(
                uow, TEAM_49, registration.id, datetime.now(UTC)
            )

    await asyncio.gather(
        *(cancel(r) for r in holders[:3]),
        *(register_one(resources_db, session_id, c) for c in codes[15:]),
    )
    final = await statuses(resources_db, session_id)
    assert [s for _, s in final].count("registered") == 5
    async with resources_db.new_uow() as uow:
        training = await uow.trainings.get_session(session_id)
    assert training is not None and training.seats_taken == 5


async def test_the_database_refuses_an_overbooked_session(resources_db: ResourcesDatabase) -> None:
    session_id = await offer(resources_db, seats=3)
    async with resources_db.new_uow() as uow:
        with pytest.raises(IntegrityError, match="training_sessions_no_overbooking"):
            await uow.session.execute(
                update(training_sessions)
                .where(training_sessions.c.id == session_id)
                .values(seats_taken=4)
            )


async def test_a_group_at_the_head_of_the_list_is_not_overtaken(
    resources_db: ResourcesDatabase,
) -> None:
    session_id = await offer(resources_db, seats=3)
    mairie = Principal(Role.COLLECTIVITE, "mairie", "49", "49007")
    async with resources_db.new_uow() as uow:
        two = await trainings.register(
            uow, mairie, session_id, uuid4(), ["Anne Martin", "Luc Petit"], datetime.now(UTC)
        )
    async with resources_db.new_uow() as uow:
        group = await trainings.register(
            uow, mairie, session_id, uuid4(), ["A B", "C D", "E F"], datetime.now(UTC)
        )
    single = await register_one(resources_db, session_id, "49010")
    # One seat is free, but a group of three waits before: the single waits too.
    assert (two.status, group.status, single.status) == (
        RegistrationStatus.REGISTERED,
        RegistrationStatus.WAITING,
        RegistrationStatus.WAITING,
    )
    async with resources_db.new_uow() as uow:
        moved = await trainings.cancel_registration(uow, TEAM_49, two.id, datetime.now(UTC))
    assert [m.id for m in moved] == [group.id]
    async with resources_db.new_uow() as uow:
        published = await uow.session.execute(
            select(OUTBOX.c.payload).where(OUTBOX.c.event_type == RegistrationPromoted.event_type)
        )
        assert any(str(group.id).encode() in row.payload for row in published.all())


async def test_reminders_go_once_seven_days_then_one_day_before(
    resources_db: ResourcesDatabase,
) -> None:
    now = datetime.now(UTC)
    # Later than the other tests' sessions: its reminders fall due alone.
    session_id = await offer(resources_db, seats=5, days_ahead=45)
    registered = [await register_one(resources_db, session_id, c) for c in collectivites(2)]
    async with resources_db.new_uow() as uow:
        training = await uow.trainings.get_session(session_id)
    assert training is not None
    six_days_before = training.starts_at - timedelta(days=6)
    half_a_day_before = training.starts_at - timedelta(hours=12)
    # Far ahead: nothing due. Six days before: the 7-day reminder, once, even claimed by
    # two instances at the same time.
    async with resources_db.new_uow() as uow:
        assert await training_follow_up.send_due_reminders(uow, now) == 0

    async def send(at: datetime) -> int:
        async with resources_db.new_uow() as uow:
            return await training_follow_up.send_due_reminders(uow, at)

    assert sum(await asyncio.gather(send(six_days_before), send(six_days_before))) == 2
    assert await send(six_days_before + timedelta(hours=1)) == 0
    assert await send(half_a_day_before) == 2
    assert await send(half_a_day_before) == 0
    async with resources_db.new_uow() as uow:
        sent = await uow.session.execute(
            select(OUTBOX.c.payload).where(
                OUTBOX.c.event_type == RegistrationReminderDue.event_type
            )
        )
        days = sorted(
            json.loads(row.payload)["days_before"]
            for row in sent.all()
            if str(session_id).encode() in row.payload
        )
    assert days == [1, 1, 7, 7]
    assert len(registered) == 2


async def test_attendance_and_its_certificate(resources_db: ResourcesDatabase) -> None:
    session_id = await offer(resources_db, seats=5)
    mairie = Principal(Role.COLLECTIVITE, "mairie", "49", "49007")
    async with resources_db.new_uow() as uow:
        registration = await trainings.register(
            uow, mairie, session_id, uuid4(), ["Anne Martin", "Luc Petit"], datetime.now(UTC)
        )
    async with resources_db.new_uow() as uow:
        training = await uow.trainings.get_session(session_id)
    assert training is not None
    during = training.starts_at + timedelta(hours=1)
    async with resources_db.new_uow() as uow:
        with pytest.raises(DomainValidationError):
            await training_follow_up.record_attendance(
                uow, CAUE, registration.id, ["Anne Martin"], training.starts_at - timedelta(days=1)
            )
    async with resources_db.new_uow() as uow:
        with pytest.raises(Forbidden):
            await training_follow_up.record_attendance(
                uow, mairie, registration.id, ["Anne Martin"], during
            )
    async with resources_db.new_uow() as uow:
        with pytest.raises(Conflict):
            await training_follow_up.certificate(uow, mairie, registration.id)
    async with resources_db.new_uow() as uow:
        marked = await training_follow_up.record_attendance(
            uow, CAUE, registration.id, ["Anne  Martin"], during
        )
    assert marked.present == ["Anne Martin"]
    async with resources_db.new_uow() as uow:
        found, session = await training_follow_up.certificate(uow, mairie, registration.id)
    pdf = await asyncio.to_thread(bootstrap.attendance_certificate, found, session)
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )
    print(f"\ncertificate: {len(pdf)} bytes, {text[:120]!r}")
    assert "Attestation de présence" in text
    assert "Anne Martin" in text and "Luc Petit" not in text
    assert "Assainissement non collectif" in text
