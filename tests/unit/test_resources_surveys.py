"""Satisfaction surveys on the fakes: asked ten days after the mission, one reminder a week
later, answered once through a signed link, summed up per actor and theme."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from services.resources.domain.surveys import InvalidLink, read_link, sign_link
from services.resources.service_layer import surveys
from shared.auth.tokens import Principal, Role
from shared.contracts.resources import SurveyAnswered, SurveyDue
from shared.errors import Conflict, DomainValidationError, Forbidden
from tests.support.events import assignment_completed
from tests.unit.fakes.resources import FakeUnitOfWork

SECRET = b"0" * 32
TEAM = Principal(Role.DEPARTEMENT, "team", "49")


def token_of(uow: FakeUnitOfWork, index: int = 0) -> str:
    dues = [p for _, p in uow.published if isinstance(p, SurveyDue)]
    return dues[index].link_path.removeprefix(surveys.LINK_PREFIX)


async def test_asked_after_ten_days_reminded_after_seven_answered_once() -> None:
    uow = FakeUnitOfWork()
    completed = assignment_completed(actor_id="caue-49", actor_name="CAUE 49")
    assert await surveys.schedule(uow, completed)
    assert not await surveys.schedule(uow, completed)
    await uow.commit()
    closed = completed.completed_at
    sent = [
        await surveys.send_due(uow, SECRET, closed + timedelta(days=d)) for d in (9, 10, 11, 17, 18)
    ]
    assert sent == [0, 1, 0, 1, 0]
    dues = [p for _, p in uow.published if isinstance(p, SurveyDue)]
    assert [d.reminder for d in dues] == [False, True]
    token = token_of(uow, 1)
    now = closed + timedelta(days=18)
    answers = surveys.Answers(quality=5, delay=3, usefulness=4, would_recommend=True)
    with pytest.raises(DomainValidationError):
        await surveys.answer(
            uow, SECRET, token, surveys.Answers(0, 3, 4, would_recommend=True), now
        )
    await surveys.answer(uow, SECRET, token, answers, now)
    with pytest.raises(Conflict):
        await surveys.answer(uow, SECRET, token_of(uow, 0), answers, now)
    assert len([p for _, p in uow.published if isinstance(p, SurveyAnswered)]) == 1
    # Answered: no reminder any more.
    assert await surveys.send_due(uow, SECRET, now + timedelta(days=30)) == 0
    by_actor, by_theme = await surveys.results(uow, TEAM, "49")
    assert [(s.label, s.answers, s.quality, s.would_recommend) for s in by_actor] == [
        ("CAUE 49", 1, Decimal("5.0"), Decimal("1.00"))
    ]
    assert [s.label for s in by_theme] == ["Bâtiments publics"]
    other_actor = Principal(Role.ACTOR, "x", "49", "other")
    assert (await surveys.results(uow, other_actor, "49")) == ([], [])
    with pytest.raises(Forbidden):
        await surveys.results(uow, Principal(Role.COLLECTIVITE, "m", "49", "49007"), "49")


def test_a_link_is_signed_and_expires() -> None:
    from datetime import UTC, datetime

    now = datetime(2027, 3, 1, tzinfo=UTC)
    survey_id = uuid4()
    token = sign_link(SECRET, survey_id, now + timedelta(days=1))
    assert read_link(SECRET, token, now) == survey_id
    with pytest.raises(InvalidLink):
        read_link(SECRET, token, now + timedelta(days=2))
    with pytest.raises(InvalidLink):
        read_link(b"1" * 32, token, now)
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    with pytest.raises(InvalidLink):
        read_link(SECRET, forged, now)
    with pytest.raises(InvalidLink):
        read_link(SECRET, "not.a.token", now)
