"""The life of an assignment: proposed → accepted / declined / expired → completed,
or cancelled when the demande is withdrawn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from services.matching.domain.model import Criteria, Need
from shared.french import PARIS


class AssignmentStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# An open assignment holds one unit of its actor's capacity.
OPEN_STATUSES = frozenset({AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED})

STATUS_LABELS = {
    AssignmentStatus.PROPOSED: "proposée",
    AssignmentStatus.ACCEPTED: "acceptée",
    AssignmentStatus.DECLINED: "déclinée",
    AssignmentStatus.EXPIRED: "expirée",
    AssignmentStatus.COMPLETED: "terminée",
    AssignmentStatus.CANCELLED: "annulée",
}

MAX_DAYS_SPENT = Decimal("1000")


@dataclass(frozen=True, slots=True)
class AssignmentFilter:
    """Which assignments a listing shows; ``None`` leaves a criterion open."""

    departement: str | None = None
    actor_id: str | None = None
    status: AssignmentStatus | None = None


class InvalidTransition(Exception):
    """The assignment cannot do that from where it is (message in French)."""


@dataclass(slots=True)
class Assignment:
    id: UUID
    request_id: UUID
    departement: str
    actor_id: str
    requester_code: str
    needs: tuple[Need, ...]
    lead: bool
    round: int
    status: AssignmentStatus
    criteria: Criteria
    reasons: str
    proposed_at: datetime
    respond_by: datetime
    responded_at: datetime | None = None
    completed_at: datetime | None = None
    days_spent: Decimal | None = None
    note: str | None = None
    # The actor's agent in charge of the mission: who accepted it, until a hand-over.
    agent: str | None = None

    def _require(self, *allowed: AssignmentStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransition(
                f"Cette mise en relation est {STATUS_LABELS[self.status]} : action impossible."
            )

    def accept(self, now: datetime, agent: str | None = None) -> None:
        self._require(AssignmentStatus.PROPOSED)
        if now > self.respond_by:
            raise InvalidTransition("Le délai de réponse est dépassé.")
        self.status = AssignmentStatus.ACCEPTED
        self.responded_at = now
        self.agent = agent

    def decline(self, reason: str | None, now: datetime) -> None:
        self._require(AssignmentStatus.PROPOSED)
        self.status = AssignmentStatus.DECLINED
        self.responded_at = now
        self.note = reason

    def expire(self, now: datetime) -> None:
        self._require(AssignmentStatus.PROPOSED)
        if now <= self.respond_by:
            raise InvalidTransition("Le délai de réponse n'est pas encore passé.")
        self.status = AssignmentStatus.EXPIRED
        self.responded_at = now

    def complete(self, days_spent: Decimal, report: str | None, now: datetime) -> None:
        self._require(AssignmentStatus.ACCEPTED)
        if days_spent < 0 or days_spent > MAX_DAYS_SPENT:
            raise InvalidTransition("Le nombre de jours doit être compris entre 0 et 1000.")
        self.status = AssignmentStatus.COMPLETED
        self.completed_at = now
        self.days_spent = days_spent
        self.note = report

    def cancel(self, reason: str, now: datetime) -> bool:
        """Returns whether the mission had started."""
        self._require(AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED)
        was_accepted = self.status is AssignmentStatus.ACCEPTED
        self.status = AssignmentStatus.CANCELLED
        self.responded_at = self.responded_at or now
        self.note = reason
        return was_accepted


# Public holidays on fixed dates; the movable ones (Easter Monday, Ascension,
# Whit Monday) are computed below.
_FIXED_HOLIDAYS = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))


def _easter(year: int) -> date:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def is_working_day(day: date) -> bool:
    if day.weekday() >= 5 or (day.month, day.day) in _FIXED_HOLIDAYS:
        return False
    easter = _easter(day.year)
    return day not in {
        easter + timedelta(days=1),
        easter + timedelta(days=39),
        easter + timedelta(days=50),
    }


def response_deadline(now: datetime, working_days: int) -> datetime:
    """``working_days`` working days after ``now``, at the same time of day.

    Working days are those of the collectivités, whose calendar day is Paris's.
    """
    moment = now
    left = working_days
    while left > 0:
        moment += timedelta(days=1)
        if is_working_day(moment.astimezone(PARIS).date()):
            left -= 1
    return moment
