"""HTTP of the satisfaction surveys: the page a signed link opens (no sign-in; it works
once, and a link used twice or expired gives a clear page), and the results per actor and
per theme for the département's team and the actors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from services.resources import bootstrap
from services.resources.domain.surveys import InvalidLink
from services.resources.service_layer import surveys
from services.resources.service_layer.ports import UnitOfWork
from shared.contracts.base import Text
from shared.errors import Conflict, NotFound
from shared.http.security import CurrentPrincipal

router = APIRouter(prefix="/v1/surveys", tags=["satisfaction"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]
Secret = Annotated[bytes, Depends(bootstrap.http_survey_secret)]
Token = Annotated[str, Path(max_length=200, pattern=r"^[0-9a-f-]{36}\.[0-9]{1,12}\.[0-9a-f]{64}$")]


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quality: int = Field(ge=1, le=5, description="Qualité de l'accompagnement, de 1 à 5.")
    delay: int = Field(ge=1, le=5, description="Respect des délais, de 1 à 5.")
    usefulness: int = Field(ge=1, le=5, description="Utilité pour votre projet, de 1 à 5.")
    would_recommend: bool
    comment: Text = Field(default="", max_length=2000)


class SatisfactionView(BaseModel):
    label: str
    answers: int
    quality: Decimal
    delay: Decimal
    usefulness: Decimal
    would_recommend: Decimal = Field(description="Part des réponses qui recommanderaient.")


class Results(BaseModel):
    by_actor: list[SatisfactionView]
    by_theme: list[SatisfactionView]


def _page(title: str, text: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title></head><body><h1>{escape(title)}</h1><p>{escape(text)}</p></body></html>",
        status_code=status,
    )


EXPIRED = (
    "Lien expiré ou invalide",
    "Ce lien n'est plus valable. Contactez votre département "
    "si vous souhaitez encore donner votre avis.",
)


@router.get("/results", response_model=Results, summary="Résultats par acteur et par thème")
async def results(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str, Query(min_length=2, max_length=3)],
) -> Results:
    async with uow:
        by_actor, by_theme = await surveys.results(uow, principal, departement)
    return Results(
        by_actor=[SatisfactionView.model_validate(s, from_attributes=True) for s in by_actor],
        by_theme=[SatisfactionView.model_validate(s, from_attributes=True) for s in by_theme],
    )


@router.get("/{token}", response_class=HTMLResponse, summary="La page du questionnaire")
async def survey_page(token: Token, uow: UoW, secret: Secret) -> HTMLResponse:
    try:
        async with uow:
            survey = await surveys.survey_of_link(uow, secret, token, datetime.now(UTC))
    except (InvalidLink, NotFound):
        return _page(*EXPIRED, 410)
    if survey.answered_at is not None:
        return _page("Merci !", "Votre réponse a déjà été enregistrée.", 200)
    return _page(
        "Votre avis sur l'accompagnement",
        f"Comment s'est passée la mission de {survey.actor_name} ? Notez de 1 à 5 la qualité, "
        "les délais et l'utilité, et dites si vous recommanderiez cet acteur.",
        200,
    )


@router.post("/{token}", response_class=HTMLResponse, summary="Répondre (une seule fois)")
async def answer(
    token: Token, uow: UoW, secret: Secret, body: Annotated[AnswerBody, Body()]
) -> HTMLResponse:
    try:
        async with uow:
            await surveys.answer(
                uow, secret, token, surveys.Answers(**body.model_dump()), datetime.now(UTC)
            )
    except (InvalidLink, NotFound):
        return _page(*EXPIRED, 410)
    except Conflict:
        return _page("Merci !", "Votre réponse avait déjà été enregistrée : rien n'a changé.", 409)
    return _page("Merci !", "Votre réponse est enregistrée.", 200)
