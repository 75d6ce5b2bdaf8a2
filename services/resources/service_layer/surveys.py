"""Use cases of the satisfaction surveys: scheduled when a mission closes, asked and
reminded by a periodic job (the events carry the signed link that notifications sends),
answered once without sign-in, summed up per actor and per theme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import uuid4

from services.resources.domain.surveys import (
    ASK_AFTER,
    LINK_LIFETIME,
    Survey,
    read_link,
    sign_link,
)
from services.resources.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.base import EventPayload
from shared.contracts.matching import AssignmentCompleted
from shared.contracts.resources import SurveyAnswered, SurveyDue
from shared.contracts.vocabulary import THEME_LABELS
from shared.errors import Forbidden, NotFound

LINK_PREFIX = "/v1/surveys/"


async def schedule(uow: UnitOfWork, completed: AssignmentCompleted) -> bool:
    """A survey due ten days after the mission closed, in the caller's transaction."""
    return await uow.surveys.add(
        Survey(
            id=uuid4(),
            assignment_id=completed.assignment_id,
            departement=completed.departement,
            actor_id=completed.actor_id,
            actor_name=completed.actor_name,
            requester_code=completed.requester_code,
            themes=list(dict.fromkeys(n.theme for n in completed.needs)),
            due_at=completed.completed_at + ASK_AFTER,
        )
    )


def _due(survey: Survey, secret: bytes, now: datetime, reminder: bool) -> SurveyDue:
    expires_at = now + LINK_LIFETIME
    return SurveyDue(
        survey_id=survey.id,
        assignment_id=survey.assignment_id,
        departement=survey.departement,
        actor_id=survey.actor_id,
        actor_name=survey.actor_name,
        requester_code=survey.requester_code,
        reminder=reminder,
        link_path=LINK_PREFIX + sign_link(secret, survey.id, expires_at),
        expires_at=expires_at,
    )


async def send_due(uow: UnitOfWork, secret: bytes, now: datetime) -> int:
    events: list[tuple[EventPayload, str]] = [
        (_due(s, secret, now, reminder=False), s.departement)
        for s in await uow.surveys.claim_due(now)
    ]
    events += [
        (_due(s, secret, now, reminder=True), s.departement)
        for s in await uow.surveys.claim_reminders(now)
    ]
    await uow.outbox.add_many(events)
    await uow.commit()
    return len(events)


@dataclass(frozen=True, slots=True)
class Answers:
    quality: int
    delay: int
    usefulness: int
    would_recommend: bool
    comment: str = ""


async def survey_of_link(uow: UnitOfWork, secret: bytes, token: str, now: datetime) -> Survey:
    """The survey a link designates (``domain.surveys.InvalidLink`` when forged or
    expired)."""
    survey = await uow.surveys.get(read_link(secret, token, now))
    if survey is None:
        raise NotFound("Questionnaire introuvable.")
    return survey


async def answer(
    uow: UnitOfWork, secret: bytes, token: str, answers: Answers, now: datetime
) -> Survey:
    """Once: a second answer through the same link is refused (Conflict), nothing counted
    twice."""
    survey = await uow.surveys.get(read_link(secret, token, now), for_update=True)
    if survey is None:
        raise NotFound("Questionnaire introuvable.")
    survey.answer(
        quality=answers.quality,
        delay=answers.delay,
        usefulness=answers.usefulness,
        would_recommend=answers.would_recommend,
        comment=answers.comment,
        now=now,
    )
    await uow.surveys.save_answer(survey)
    await uow.outbox.add(
        SurveyAnswered(
            survey_id=survey.id,
            assignment_id=survey.assignment_id,
            departement=survey.departement,
            actor_id=survey.actor_id,
            actor_name=survey.actor_name,
            requester_code=survey.requester_code,
            themes=survey.themes,
            quality=answers.quality,
            delay=answers.delay,
            usefulness=answers.usefulness,
            would_recommend=answers.would_recommend,
            answered_at=now,
        ),
        departement=survey.departement,
    )
    await uow.commit()
    return survey


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """Averages over the answers of one actor or one theme."""

    label: str
    answers: int
    quality: Decimal
    delay: Decimal
    usefulness: Decimal
    would_recommend: Decimal


def _mean(values: list[int]) -> Decimal:
    return (Decimal(sum(values)) / len(values)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _summary(label: str, answered: list[Survey]) -> Satisfaction:
    return Satisfaction(
        label,
        len(answered),
        _mean([s.quality or 0 for s in answered]),
        _mean([s.delay or 0 for s in answered]),
        _mean([s.usefulness or 0 for s in answered]),
        (Decimal(sum(1 for s in answered if s.would_recommend)) / len(answered)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        ),
    )


async def results(
    uow: UnitOfWork, principal: Principal, departement: str
) -> tuple[list[Satisfaction], list[Satisfaction]]:
    """Per actor and per theme: the département's team sees every actor, an actor its own
    answers only."""
    team = principal.role is Role.DEPARTEMENT and principal.departement == departement
    actor = principal.role is Role.ACTOR and principal.departement == departement
    if not (team or actor or principal.role is Role.ADMIN):
        raise Forbidden("Les résultats sont réservés au département et aux acteurs concernés.")
    answered = await uow.surveys.answered(departement)
    if actor:
        answered = [s for s in answered if s.actor_id == principal.scope]
    by_actor: dict[str, list[Survey]] = {}
    by_theme: dict[str, list[Survey]] = {}
    for survey in answered:
        by_actor.setdefault(survey.actor_name, []).append(survey)
        for theme in survey.themes:
            by_theme.setdefault(THEME_LABELS[theme], []).append(survey)
    return (
        [_summary(k, v) for k, v in sorted(by_actor.items())],
        [_summary(k, v) for k, v in sorted(by_theme.items())],
    )
