"""After the registration: reminders 7 days and 1 day before a session, the attendance
its actor records, and the certificate of attendance."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.resources.domain.trainings import (
    REMINDER_DAYS,
    Registration,
    TrainingSession,
    check_present,
)
from services.resources.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.base import EventPayload
from shared.contracts.resources import AttendanceRecorded, RegistrationReminderDue
from shared.errors import Conflict, Forbidden, NotFound


async def send_due_reminders(uow: UnitOfWork, now: datetime) -> int:
    """Publish the reminders now due (notifications turns them into emails); each
    registration gets each reminder once, whatever the number of instances."""
    events: list[tuple[EventPayload, str]] = []
    for days in REMINDER_DAYS:
        for due in await uow.trainings.claim_reminders(days, now):
            r = due.registration
            events.append(
                (
                    RegistrationReminderDue(
                        registration_id=r.id,
                        session_id=r.session_id,
                        departement=r.departement,
                        collectivite_code=r.collectivite_code,
                        participants=r.size,
                        days_before=7 if days == 7 else 1,
                        title=due.title,
                        starts_at=due.starts_at,
                        online=due.online,
                        place=due.place,
                    ),
                    r.departement,
                )
            )
    await uow.outbox.add_many(events)
    await uow.commit()
    return len(events)


async def _registration_and_session(
    uow: UnitOfWork, registration_id: UUID, *, lock: bool
) -> tuple[Registration, TrainingSession]:
    registration = await uow.trainings.get_registration(registration_id)
    if registration is None:
        raise NotFound("Inscription introuvable.")
    session = await uow.trainings.get_session(registration.session_id, for_update=lock)
    if session is None:
        raise NotFound("Session de formation introuvable.")
    if lock:
        # Read again under the session's lock, like every change of its registrations.
        registration = await uow.trainings.get_registration(registration_id) or registration
    return registration, session


async def record_attendance(
    uow: UnitOfWork,
    principal: Principal,
    registration_id: UUID,
    present: list[str],
    now: datetime,
) -> Registration:
    registration, session = await _registration_and_session(uow, registration_id, lock=True)
    actor = principal.role is Role.ACTOR and principal.scope == session.actor_id
    team = principal.role is Role.DEPARTEMENT and principal.departement == session.departement
    if not (actor or team or principal.role is Role.ADMIN):
        raise Forbidden("La présence est relevée par l'acteur de la session ou le département.")
    registration.present = check_present(session, registration, present, now)
    registration.attendance_at = now
    await uow.trainings.save_registration(registration)
    await uow.outbox.add(
        AttendanceRecorded(
            registration_id=registration.id,
            session_id=session.id,
            departement=session.departement,
            collectivite_code=registration.collectivite_code,
            participants=registration.size,
            present=len(registration.present),
            recorded_at=now,
        ),
        departement=session.departement,
    )
    await uow.commit()
    return registration


async def certificate(
    uow: UnitOfWork, principal: Principal, registration_id: UUID
) -> tuple[Registration, TrainingSession]:
    """What the certificate of attendance states: for the collectivité registered, the
    session's actor and the département's team, once attendance is recorded."""
    registration, session = await _registration_and_session(uow, registration_id, lock=False)
    allowed = (
        principal.role is Role.ADMIN
        or (
            principal.role is Role.COLLECTIVITE
            and principal.scope == registration.collectivite_code
        )
        or (principal.role is Role.ACTOR and principal.scope == session.actor_id)
        or (principal.role is Role.DEPARTEMENT and principal.departement == session.departement)
    )
    if not allowed:
        raise Forbidden("Cette attestation concerne une autre collectivité.")
    if not registration.present:
        raise Conflict("Aucune présence relevée pour cette inscription : pas d'attestation.")
    return registration, session
