"""Use cases of the trainings: offer a session, register participants, cancel.

Each registration and each cancellation locks its session's row first (the repository's
``get_session(for_update=True)``): the seats are counted and changed by one transaction
at a time, so concurrent registrations never book more seats than the session has, and
the waiting list keeps the order in which they arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from services.resources.domain.trainings import (
    Registration,
    TrainingSession,
    admit,
    check_participants,
    check_session,
    money,
    promotable,
    release,
)
from services.resources.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.resources import (
    Audience,
    RegistrationCancelled,
    RegistrationPromoted,
    RegistrationRecorded,
    RegistrationStatus,
    TrainingOffered,
)
from shared.contracts.vocabulary import Theme
from shared.errors import Conflict, Forbidden, NotFound
from shared.observability.metrics import TRAINING_REGISTRATIONS


@dataclass(frozen=True, slots=True)
class SessionDraft:
    title: str
    description: str
    themes: list[Theme]
    starts_at: datetime
    ends_at: datetime
    online: bool
    place: str | None
    seats: int
    audience: list[Audience]
    price_member: Decimal
    price_non_member: Decimal
    # An actor offers its own sessions; a département's team names the actor.
    actor_id: str | None = None


async def offer_session(
    uow: UnitOfWork, principal: Principal, session_id: UUID, draft: SessionDraft, now: datetime
) -> TrainingSession:
    if principal.role is Role.ACTOR:
        actor_id = principal.scope
        if draft.actor_id is not None and draft.actor_id != actor_id:
            raise Forbidden("Un acteur ne propose que ses propres sessions.")
    elif principal.role in (Role.DEPARTEMENT, Role.ADMIN):
        actor_id = draft.actor_id
    else:
        raise Forbidden("Les sessions de formation sont proposées par les acteurs.")
    if actor_id is None or principal.departement is None:
        raise Forbidden("Indiquez l'acteur et le département de la session.")
    check_session(
        title=draft.title,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        online=draft.online,
        place=draft.place,
        seats=draft.seats,
        audience=draft.audience,
        themes=draft.themes,
        now=now,
    )
    training = TrainingSession(
        id=session_id,
        departement=principal.departement,
        actor_id=actor_id,
        title=draft.title.strip(),
        description=draft.description.strip(),
        themes=list(dict.fromkeys(draft.themes)),
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        online=draft.online,
        place=None if draft.online and not draft.place else draft.place,
        seats=draft.seats,
        seats_taken=0,
        audience=list(dict.fromkeys(draft.audience)),
        price_member=money(draft.price_member),
        price_non_member=money(draft.price_non_member),
        created_at=now,
    )
    await uow.trainings.add_session(training)
    await uow.outbox.add(
        TrainingOffered(
            session_id=training.id,
            departement=training.departement,
            actor_id=training.actor_id,
            title=training.title,
            themes=training.themes,
            starts_at=training.starts_at,
            ends_at=training.ends_at,
            online=training.online,
            place=training.place,
            seats=training.seats,
            audience=training.audience,
            price_member=training.price_member,
            price_non_member=training.price_non_member,
            offered_at=now,
        ),
        departement=training.departement,
    )
    await uow.commit()
    return training


async def _locked_session(uow: UnitOfWork, session_id: UUID) -> TrainingSession:
    training = await uow.trainings.get_session(session_id, for_update=True)
    if training is None:
        raise NotFound("Session de formation introuvable.")
    return training


def _registering_collectivite(principal: Principal, collectivite_code: str | None) -> str:
    if principal.role is Role.COLLECTIVITE and principal.scope is not None:
        if collectivite_code not in (None, principal.scope):
            raise Forbidden("Vous n'inscrivez que des participants de votre collectivité.")
        return principal.scope
    if principal.role in (Role.DEPARTEMENT, Role.ADMIN) and collectivite_code is not None:
        return collectivite_code
    raise Forbidden("L'inscription est faite par une collectivité.")


async def register(
    uow: UnitOfWork,
    principal: Principal,
    session_id: UUID,
    registration_id: UUID,
    participants: list[str],
    now: datetime,
    collectivite_code: str | None = None,
) -> Registration:
    """Seats if they remain and nobody waits before; the waiting list otherwise."""
    code = _registering_collectivite(principal, collectivite_code)
    names = check_participants(participants)
    training = await _locked_session(uow, session_id)
    if principal.role is not Role.ADMIN and principal.departement != training.departement:
        raise Forbidden("Cette session est proposée dans un autre département.")
    if training.starts_at <= now:
        raise Conflict("Cette session a déjà commencé : les inscriptions sont closes.")
    existing = await uow.trainings.get_registration(registration_id)
    if existing is not None:
        if existing.session_id != session_id or existing.collectivite_code != code:
            raise Conflict("Cet identifiant d'inscription est déjà utilisé.")
        return existing
    waiting = await uow.trainings.registrations(session_id, RegistrationStatus.WAITING)
    registration = Registration(
        id=registration_id,
        session_id=session_id,
        departement=training.departement,
        collectivite_code=code,
        participants=names,
        status=RegistrationStatus.WAITING,
        registered_at=now,
    )
    registration.status = admit(training, registration, others_waiting=bool(waiting))
    registration.position = await uow.trainings.add_registration(registration)
    await uow.trainings.save_seats(training)
    await uow.outbox.add(
        RegistrationRecorded(
            registration_id=registration.id,
            session_id=session_id,
            departement=training.departement,
            collectivite_code=code,
            participants=registration.size,
            status=registration.status,
            recorded_at=now,
        ),
        departement=training.departement,
    )
    await uow.commit()
    TRAINING_REGISTRATIONS.labels(training.departement, registration.status.value).inc()
    return registration


async def cancel_registration(
    uow: UnitOfWork, principal: Principal, registration_id: UUID, now: datetime
) -> list[Registration]:
    """Cancel it; the freed seats go to the head of the waiting list, in order.
    Returns the registrations promoted."""
    found = await uow.trainings.get_registration(registration_id)
    if found is None:
        raise NotFound("Inscription introuvable.")
    training = await _locked_session(uow, found.session_id)
    # Read again under the session's lock: a concurrent cancellation may have passed.
    registration = await uow.trainings.get_registration(registration_id)
    assert registration is not None  # registrations are never deleted
    own = principal.role is Role.COLLECTIVITE and principal.scope == (
        registration.collectivite_code
    )
    team = principal.role is Role.DEPARTEMENT and principal.departement == training.departement
    if not (own or team or principal.role is Role.ADMIN):
        raise Forbidden("Seule la collectivité inscrite ou le département annule.")
    if registration.status is RegistrationStatus.CANCELLED:
        return []
    previous = registration.status
    release(training, registration)
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = now
    await uow.trainings.save_registration(registration)
    events: list[tuple[RegistrationCancelled | RegistrationPromoted, str]] = [
        (
            RegistrationCancelled(
                registration_id=registration.id,
                session_id=training.id,
                departement=training.departement,
                collectivite_code=registration.collectivite_code,
                participants=registration.size,
                previous_status=previous,
                cancelled_at=now,
            ),
            training.departement,
        )
    ]
    waiting = await uow.trainings.registrations(training.id, RegistrationStatus.WAITING)
    promoted = promotable(training, waiting)
    for moved in promoted:
        moved.status = RegistrationStatus.REGISTERED
        moved.promoted_at = now
        await uow.trainings.save_registration(moved)
        events.append(
            (
                RegistrationPromoted(
                    registration_id=moved.id,
                    session_id=training.id,
                    departement=training.departement,
                    collectivite_code=moved.collectivite_code,
                    participants=moved.size,
                    promoted_at=now,
                ),
                training.departement,
            )
        )
    await uow.trainings.save_seats(training)
    await uow.outbox.add_many(list(events))
    await uow.commit()
    TRAINING_REGISTRATIONS.labels(training.departement, "cancelled").inc()
    TRAINING_REGISTRATIONS.labels(training.departement, "promoted").inc(len(promoted))
    return promoted


async def read_session(
    uow: UnitOfWork, principal: Principal, session_id: UUID
) -> tuple[TrainingSession, list[Registration]]:
    """The session; its registrations for its département's team and its actor, a
    collectivité's own for a collectivité."""
    training = await uow.trainings.get_session(session_id)
    if training is None:
        raise NotFound("Session de formation introuvable.")
    if principal.role is not Role.ADMIN and principal.departement != training.departement:
        raise NotFound("Session de formation introuvable.")
    every = await uow.trainings.registrations(session_id)
    if principal.role is Role.COLLECTIVITE:
        every = [r for r in every if r.collectivite_code == principal.scope]
    elif principal.role is Role.ACTOR and principal.scope != training.actor_id:
        every = []
    return training, every


async def upcoming_sessions(
    uow: UnitOfWork, principal: Principal, now: datetime
) -> list[TrainingSession]:
    departement = None if principal.role is Role.ADMIN else principal.departement
    if departement is None and principal.role is not Role.ADMIN:
        raise Forbidden("Votre accès ne relève d'aucun département.")
    return await uow.trainings.upcoming(departement, now)
