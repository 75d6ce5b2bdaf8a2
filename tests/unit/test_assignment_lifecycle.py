from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.matching.domain.lifecycle import (
    Assignment,
    AssignmentStatus,
    InvalidTransition,
    is_working_day,
    response_deadline,
)
from services.matching.domain.model import Criteria, Need
from shared.contracts.vocabulary import Phase, Theme

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday


def assignment(**overrides: object) -> Assignment:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "request_id": uuid.uuid4(),
        "departement": "49",
        "actor_id": "49-caue",
        "requester_code": "49007",
        "needs": (Need(Theme.URBANISME, Phase.IDEE),),
        "lead": True,
        "round": 1,
        "status": AssignmentStatus.PROPOSED,
        "criteria": Criteria(1, 1, 1, 0, 1, 0.9),
        "reasons": "",
        "proposed_at": NOW,
        "respond_by": NOW + timedelta(days=7),
    }
    values.update(overrides)
    return Assignment(**values)  # type: ignore[arg-type]


def test_accept_then_complete() -> None:
    a = assignment()
    a.accept(NOW)
    a.complete(Decimal("3.5"), "Rapport remis", NOW + timedelta(days=30))
    assert a.status is AssignmentStatus.COMPLETED and a.days_spent == Decimal("3.5")


def test_no_acceptance_after_the_deadline_and_no_early_expiry() -> None:
    with pytest.raises(InvalidTransition, match="délai"):
        assignment().accept(NOW + timedelta(days=8))
    with pytest.raises(InvalidTransition, match="pas encore"):
        assignment().expire(NOW)
    late = assignment()
    late.expire(NOW + timedelta(days=8))
    assert late.status is AssignmentStatus.EXPIRED


def test_closed_assignments_refuse_every_action_in_french() -> None:
    a = assignment()
    a.decline("Pas disponible", NOW)
    for action in (
        lambda: a.accept(NOW),
        lambda: a.decline(None, NOW),
        lambda: a.complete(Decimal(1), None, NOW),
    ):
        with pytest.raises(InvalidTransition, match="déclinée"):
            action()


def test_cancel_tells_whether_the_mission_had_started() -> None:
    proposed, accepted = assignment(), assignment()
    accepted.accept(NOW)
    assert proposed.cancel("retrait", NOW) is False
    assert accepted.cancel("retrait", NOW) is True


def test_days_spent_are_bounded() -> None:
    a = assignment()
    a.accept(NOW)
    with pytest.raises(InvalidTransition):
        a.complete(Decimal("-1"), None, NOW)


def test_working_days_skip_weekends_and_french_holidays() -> None:
    assert not is_working_day(date(2026, 11, 28))  # Saturday
    assert not is_working_day(date(2026, 11, 11))  # Armistice
    assert not is_working_day(date(2027, 3, 29))  # Easter Monday 2027
    assert not is_working_day(date(2027, 5, 6))  # Ascension 2027
    assert is_working_day(date(2026, 11, 26))
    # Wednesday + 5 working days = next Wednesday.
    assert response_deadline(NOW, 5) == NOW + timedelta(days=7)
    # Over Christmas: 24 Dec 2026 (Thursday) + 2 working days = 28 Dec (Monday).
    christmas_eve = datetime(2026, 12, 24, 9, tzinfo=UTC)
    assert response_deadline(christmas_eve, 2).date() == date(2026, 12, 29)


def test_working_days_are_counted_in_paris_time() -> None:
    # 23:30 UTC on Sunday 29 November is 00:30 on Monday 30 in Paris: a working day.
    friday_night = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert response_deadline(friday_night, 1) == datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
