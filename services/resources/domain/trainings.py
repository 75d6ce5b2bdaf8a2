"""Training sessions and the registrations of collectivités, with a waiting list.

A session never holds more participants than its seats: a registration that does not fit
waits, and freed seats go to the waiting list in the order registrations arrived. The
order is strict: a large group at the head of the list is not overtaken by a smaller one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from shared.contracts.resources import Audience, RegistrationStatus
from shared.contracts.vocabulary import Theme
from shared.errors import DomainValidationError, FieldError

CENT = Decimal("0.01")
MAX_PARTICIPANTS = 50


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class TrainingSession:
    id: UUID
    departement: str
    actor_id: str
    title: str
    description: str
    themes: list[Theme]
    starts_at: datetime
    ends_at: datetime
    online: bool
    place: str | None
    seats: int
    seats_taken: int
    audience: list[Audience]
    price_member: Decimal
    price_non_member: Decimal
    created_at: datetime

    def free_seats(self) -> int:
        return self.seats - self.seats_taken


@dataclass(slots=True)
class Registration:
    id: UUID
    session_id: UUID
    departement: str
    collectivite_code: str
    participants: list[str]
    status: RegistrationStatus
    registered_at: datetime
    # Arrival order, given by the database under the session's lock: the waiting list's order.
    position: int = 0
    promoted_at: datetime | None = None
    cancelled_at: datetime | None = None
    # Who of the participants attended, once the session's actor said so.
    present: list[str] | None = None
    attendance_at: datetime | None = None

    @property
    def size(self) -> int:
        return len(self.participants)


def check_session(
    *,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    online: bool,
    place: str | None,
    seats: int,
    audience: list[Audience],
    themes: list[Theme],
    now: datetime,
) -> None:
    errors: list[FieldError] = []
    if len(title.strip()) < 5:
        errors.append(FieldError("title", "Le titre doit compter au moins 5 caractères."))
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        errors.append(FieldError("starts_at", "Les dates doivent porter leur fuseau horaire."))
    elif ends_at <= starts_at:
        errors.append(FieldError("ends_at", "La fin doit suivre le début."))
    elif starts_at <= now:
        errors.append(FieldError("starts_at", "La session doit commencer dans le futur."))
    if not online and not (place or "").strip():
        errors.append(FieldError("place", "Indiquez le lieu, ou que la session est en ligne."))
    if seats < 1:
        errors.append(FieldError("seats", "Au moins une place."))
    if not audience:
        errors.append(FieldError("audience", "Indiquez le public : élus, agents ou les deux."))
    if not themes:
        errors.append(FieldError("themes", "Indiquez au moins un thème."))
    if errors:
        raise DomainValidationError(errors)


def check_participants(participants: list[str]) -> list[str]:
    names = [" ".join(p.split()) for p in participants]
    if not names or any(len(n) < 2 for n in names):
        raise DomainValidationError(
            [FieldError("participants", "Nommez chaque participant (au moins 2 caractères).")]
        )
    if len(names) > MAX_PARTICIPANTS:
        raise DomainValidationError(
            [FieldError("participants", f"Au plus {MAX_PARTICIPANTS} participants.")]
        )
    return names


def admit(
    session: TrainingSession, registration: Registration, *, others_waiting: bool
) -> RegistrationStatus:
    """Seats if they fit and nobody waits before it; the waiting list otherwise."""
    if not others_waiting and registration.size <= session.free_seats():
        session.seats_taken += registration.size
        return RegistrationStatus.REGISTERED
    return RegistrationStatus.WAITING


def release(session: TrainingSession, registration: Registration) -> None:
    if registration.status is RegistrationStatus.REGISTERED:
        session.seats_taken -= registration.size


def promotable(session: TrainingSession, waiting: list[Registration]) -> list[Registration]:
    """The head of the waiting list (in order) that the free seats now hold; takes them."""
    promoted: list[Registration] = []
    for registration in sorted(waiting, key=lambda r: r.position):
        if registration.size > session.free_seats():
            break
        session.seats_taken += registration.size
        promoted.append(registration)
    return promoted


# Reminders go this many days before a session starts (the 7-day one only while more
# than a day remains, so that a late registration gets the 1-day one alone).
REMINDER_DAYS = (7, 1)


@dataclass(frozen=True, slots=True)
class ReminderDue:
    registration: Registration
    days_before: int
    title: str
    starts_at: datetime
    online: bool
    place: str | None


def check_present(
    session: TrainingSession, registration: Registration, names: list[str], now: datetime
) -> list[str]:
    """Those present, among the registration's participants, once the session began."""
    if now < session.starts_at:
        raise DomainValidationError(
            [FieldError("present", "La présence se relève une fois la session commencée.")]
        )
    if registration.status is not RegistrationStatus.REGISTERED:
        raise DomainValidationError(
            [FieldError("present", "Seule une inscription confirmée a des présents.")]
        )
    cleaned = [" ".join(n.split()) for n in names]
    unknown = [n for n in cleaned if n not in registration.participants]
    if unknown:
        raise DomainValidationError(
            [FieldError("present", f"Participant non inscrit : {unknown[0][:80]}")]
        )
    return list(dict.fromkeys(cleaned))
