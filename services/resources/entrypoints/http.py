"""HTTP API of the documentation: publish and revise sheets (a département's team), read
them and search the library, sheets and published experiences (every signed-in reader)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.resources import bootstrap
from services.resources.domain.sheets import CommuneSize, HitKind, SearchHit, SearchQuery, Sheet
from services.resources.domain.suggestions import Need, SuggestionKind
from services.resources.service_layer import sheets, suggestions
from services.resources.service_layer.ports import UnitOfWork
from shared.contracts.base import Line, Text
from shared.contracts.resources import SheetKind
from shared.contracts.vocabulary import Phase, Theme
from shared.french import PARIS
from shared.http.security import CurrentPrincipal

router = APIRouter(tags=["documentation"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]


class SheetBody(BaseModel):
    """Une fiche documentaire ; le contenu est en Markdown."""

    model_config = ConfigDict(extra="forbid")

    title: Line = Field(min_length=5, max_length=200)
    summary: Text = Field(min_length=10, max_length=2000)
    body: Text = Field(min_length=1, max_length=100_000, description="Markdown.")
    kind: SheetKind
    themes: list[Theme] = Field(min_length=1, max_length=6)
    phases: list[Phase] = Field(default_factory=list, max_length=5)
    links: list[Annotated[Line, Field(max_length=500)]] = Field(default_factory=list)
    review_on: date = Field(description="Après cette date, la fiche est signalée « à revoir ».")
    national: bool = Field(default=False, description="Visible de tous les départements.")
    author_actor_id: Line | None = Field(default=None, max_length=80)
    departement: str | None = Field(
        default=None, min_length=2, max_length=3, description="Administrateurs seulement."
    )

    def draft(self) -> sheets.SheetDraft:
        return sheets.SheetDraft(
            title=self.title,
            summary=self.summary,
            body=self.body,
            kind=self.kind,
            themes=self.themes,
            phases=self.phases,
            links=self.links,
            review_on=self.review_on,
            national=self.national,
            author_actor_id=self.author_actor_id,
            departement=self.departement,
        )


class SheetView(BaseModel):
    id: UUID
    departement: str
    national: bool
    title: str
    summary: str
    body: str
    kind: SheetKind
    themes: list[Theme]
    phases: list[Phase]
    links: list[str]
    author_actor_id: str | None
    review_on: date
    to_review: bool = Field(description="« À revoir » : la date de revue est passée.")
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, s: Sheet, today: date) -> SheetView:
        return cls(
            id=s.id,
            departement=s.departement,
            national=s.national,
            title=s.title,
            summary=s.summary,
            body=s.body,
            kind=s.kind,
            themes=s.themes,
            phases=s.phases,
            links=s.links,
            author_actor_id=s.author_actor_id,
            review_on=s.review_on,
            to_review=s.to_review(today),
            version=s.version,
            updated_at=s.updated_at,
        )


class HitView(BaseModel):
    kind: HitKind
    id: UUID
    departement: str
    title: str
    summary: str
    headline: str = Field(description="Extraits, mots trouvés entre <mark> et </mark>.")
    rank: float
    themes: list[Theme]
    phases: list[Phase]
    sheet_kind: SheetKind | None
    review_on: date | None
    to_review: bool
    commune_population: int | None

    @classmethod
    def of(cls, h: SearchHit, today: date) -> HitView:
        return cls(
            kind=h.kind,
            id=h.id,
            departement=h.departement,
            title=h.title,
            summary=h.summary,
            headline=h.headline,
            rank=h.rank,
            themes=h.themes,
            phases=h.phases,
            sheet_kind=h.sheet_kind,
            review_on=h.review_on,
            to_review=h.review_on is not None and today > h.review_on,
            commune_population=h.commune_population,
        )


class SearchPage(BaseModel):
    items: list[HitView]
    total: int
    limit: int
    offset: int


def _today() -> date:
    return datetime.now(UTC).astimezone(PARIS).date()


@router.post("/v1/sheets", status_code=201, response_model=SheetView, summary="Publier une fiche")
async def publish(
    response: Response,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[SheetBody, Body()],
    idempotency_key: Annotated[UUID | None, Header()] = None,
) -> SheetView:
    async with uow:
        sheet = await sheets.publish_sheet(
            uow, principal, idempotency_key or uuid4(), body.draft(), datetime.now(UTC)
        )
    response.headers["Location"] = f"/v1/sheets/{sheet.id}"
    return SheetView.of(sheet, _today())


@router.put("/v1/sheets/{sheet_id}", response_model=SheetView, summary="Réviser une fiche")
async def revise(
    sheet_id: UUID, principal: CurrentPrincipal, uow: UoW, body: Annotated[SheetBody, Body()]
) -> SheetView:
    async with uow:
        sheet = await sheets.revise_sheet(uow, principal, sheet_id, body.draft(), datetime.now(UTC))
    return SheetView.of(sheet, _today())


@router.get("/v1/sheets/{sheet_id}", response_model=SheetView, summary="Lire une fiche")
async def read(sheet_id: UUID, principal: CurrentPrincipal, uow: UoW) -> SheetView:
    async with uow:
        sheet = await sheets.read_sheet(uow, principal, sheet_id)
    return SheetView.of(sheet, _today())


@router.get(
    "/v1/search",
    response_model=SearchPage,
    summary="Chercher dans les fiches et les retours d'expérience",
    description=(
        "Recherche plein texte en français (accents et pluriels indifférents), syntaxe d'un "
        "moteur web : « guillemets » pour une expression, `or`, `-mot` pour exclure."
    ),
)
async def search(
    principal: CurrentPrincipal,
    uow: UoW,
    q: Annotated[str, Query(max_length=500, description="Les mots cherchés")] = "",
    theme: Annotated[Theme | None, Query()] = None,
    phase: Annotated[Phase | None, Query()] = None,
    kind: Annotated[SheetKind | None, Query(description="Fiches de ce type seulement")] = None,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    commune_size: Annotated[
        CommuneSize | None, Query(description="Retours d'expérience de communes de cette taille")
    ] = None,
    only: Annotated[HitKind | None, Query(description="Fiches ou retours seulement")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchPage:
    query = SearchQuery(
        text=q,
        departement=departement,
        theme=theme,
        phase=phase,
        kind=kind,
        commune_size=commune_size,
        include=(only,) if only is not None else (HitKind.SHEET, HitKind.EXPERIENCE),
    )
    async with uow:
        hits, total = await sheets.search(uow, principal, query, limit=limit, offset=offset)
    today = _today()
    return SearchPage(
        items=[HitView.of(h, today) for h in hits], total=total, limit=limit, offset=offset
    )


class SuggestionView(BaseModel):
    kind: SuggestionKind
    id: UUID
    title: str
    reason: str = Field(description="Pourquoi cette ressource est proposée.")
    score: int


@router.get(
    "/v1/suggestions",
    response_model=list[SuggestionView],
    summary="Fiches, formations à venir et retours d'expérience adaptés à un besoin",
)
async def suggest(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str, Query(min_length=2, max_length=3)],
    themes: Annotated[list[Theme], Query(min_length=1, max_length=6)],
    phase: Annotated[Phase | None, Query()] = None,
    population: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[SuggestionView]:
    need = Need(departement, list(dict.fromkeys(themes)), phase, population)
    async with uow:
        found = await suggestions.suggestions(uow, principal, need, datetime.now(UTC), limit)
    return [
        SuggestionView(kind=s.kind, id=s.id, title=s.title, reason=s.reason, score=s.score)
        for s in found
    ]
