"""French full-text search over sheets and published experiences, in PostgreSQL.

The text goes to ``websearch_to_tsquery`` as a bound parameter: quotes, ``or``, ``-`` work
as on a web search engine, and any other character is read as text, never as syntax, so no
input makes the query fail. Hits are ranked with ``ts_rank_cd`` (cover density: the words
found close together rank higher) and given highlights with ``ts_headline`` on the
HTML-escaped text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    String,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.resources.adapters.orm import TEXT_SEARCH_CONFIG, experiences, sheets
from services.resources.domain.experiences import ExperienceStatus
from services.resources.domain.sheets import SIZE_BOUNDS, HitKind, SearchHit, SearchQuery
from shared.contracts.resources import SheetKind
from shared.contracts.vocabulary import Phase, Theme

HEADLINE_OPTIONS = "StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MaxWords=30, MinWords=10"


def _config() -> ColumnElement[Any]:
    return cast(literal(TEXT_SEARCH_CONFIG), REGCONFIG)


def _escaped(text: ColumnElement[Any]) -> ColumnElement[Any]:
    # Escaped before ts_headline, which then adds only its own <mark> tags.
    return func.replace(func.replace(func.replace(text, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")


class SqlSearchIndex:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def search(
        self, query: SearchQuery, *, limit: int, offset: int
    ) -> tuple[list[SearchHit], int]:
        text = query.text.strip()
        tsquery = func.websearch_to_tsquery(_config(), text) if text else None
        parts = []
        if HitKind.SHEET in query.include and query.commune_size is None:
            parts.append(self._sheets(query, tsquery))
        if HitKind.EXPERIENCE in query.include and query.kind is None:
            parts.append(self._experiences(query, tsquery))
        if not parts:
            return [], 0
        found = union_all(*parts).subquery("found")
        total = func.count().over().label("total")
        rows = (
            await self._session.execute(
                select(found, total)
                .order_by(found.c.rank.desc(), found.c.title, found.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        if not rows:
            if offset == 0:
                return [], 0
            count = await self._session.execute(select(func.count()).select_from(found))
            return [], int(count.scalar_one())
        return [_hit(r) for r in rows], int(rows[0].total)

    def _sheets(self, query: SearchQuery, tsquery: ColumnElement[Any] | None) -> Any:
        conditions: list[ColumnElement[bool]] = []
        if tsquery is not None:
            conditions.append(sheets.c.search_vector.op("@@")(tsquery))
        if query.departement is not None:
            conditions.append(or_(sheets.c.departement == query.departement, sheets.c.national))
        if query.theme is not None:
            conditions.append(sheets.c.themes.contains([query.theme.value]))
        if query.phase is not None:
            conditions.append(sheets.c.phases.contains([query.phase.value]))
        if query.kind is not None:
            conditions.append(sheets.c.kind == query.kind.value)
        document = sheets.c.title + " — " + sheets.c.summary + "\n" + sheets.c.body
        return select(
            literal(HitKind.SHEET.value, String).label("hit_kind"),
            sheets.c.id,
            sheets.c.departement,
            sheets.c.title,
            sheets.c.summary,
            self._headline(document, tsquery, sheets.c.summary),
            self._rank(sheets.c.search_vector, tsquery),
            cast(sheets.c.themes, ARRAY(String)).label("themes"),
            cast(sheets.c.phases, ARRAY(String)).label("phases"),
            sheets.c.kind.label("sheet_kind"),
            sheets.c.review_on,
            cast(null(), Integer).label("commune_population"),
        ).where(*conditions)

    def _experiences(self, query: SearchQuery, tsquery: ColumnElement[Any] | None) -> Any:
        conditions: list[ColumnElement[bool]] = [
            experiences.c.status == ExperienceStatus.PUBLISHED.value
        ]
        if tsquery is not None:
            conditions.append(experiences.c.search_vector.op("@@")(tsquery))
        if query.departement is not None:
            conditions.append(experiences.c.departement == query.departement)
        if query.theme is not None:
            conditions.append(experiences.c.themes.contains([query.theme.value]))
        if query.phase is not None:
            conditions.append(experiences.c.phases.contains([query.phase.value]))
        if query.commune_size is not None:
            low, high = SIZE_BOUNDS[query.commune_size]
            conditions.append(experiences.c.commune_population >= low)
            if high is not None:
                conditions.append(experiences.c.commune_population < high)
        document = (
            experiences.c.title
            + " — "
            + experiences.c.context
            + "\n"
            + experiences.c.what_was_done
            + "\n"
            + experiences.c.lessons
        )
        return select(
            literal(HitKind.EXPERIENCE.value, String).label("hit_kind"),
            experiences.c.id,
            experiences.c.departement,
            experiences.c.title,
            experiences.c.context.label("summary"),
            self._headline(document, tsquery, experiences.c.context),
            self._rank(experiences.c.search_vector, tsquery),
            cast(experiences.c.themes, ARRAY(String)).label("themes"),
            cast(experiences.c.phases, ARRAY(String)).label("phases"),
            cast(null(), String).label("sheet_kind"),
            cast(null(), Date).label("review_on"),
            experiences.c.commune_population,
        ).where(*conditions)

    @staticmethod
    def _headline(
        document: ColumnElement[Any],
        tsquery: ColumnElement[Any] | None,
        fallback: ColumnElement[Any],
    ) -> ColumnElement[Any]:
        if tsquery is None:
            return _escaped(fallback).label("headline")
        return func.ts_headline(_config(), _escaped(document), tsquery, HEADLINE_OPTIONS).label(
            "headline"
        )

    @staticmethod
    def _rank(vector: ColumnElement[Any], tsquery: ColumnElement[Any] | None) -> Any:
        if tsquery is None:
            return cast(literal(0.0), Float).label("rank")
        return cast(func.ts_rank_cd(vector, tsquery), Float).label("rank")


def _hit(row: Any) -> SearchHit:
    return SearchHit(
        kind=HitKind(row.hit_kind),
        id=row.id,
        departement=row.departement,
        title=row.title,
        summary=row.summary,
        headline=row.headline,
        rank=float(row.rank),
        themes=[Theme(t) for t in row.themes],
        phases=[Phase(p) for p in row.phases],
        sheet_kind=SheetKind(row.sheet_kind) if row.sheet_kind else None,
        review_on=row.review_on,
        commune_population=row.commune_population,
    )
