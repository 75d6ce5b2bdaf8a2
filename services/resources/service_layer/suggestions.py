"""Use case of the suggestions: what the library and the trainings offer for a need."""

from __future__ import annotations

from datetime import datetime

from services.resources.domain.sheets import SearchQuery
from services.resources.domain.suggestions import (
    Candidate,
    Need,
    Suggestion,
    candidate_kind,
    of_session,
    suggest,
)
from services.resources.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.errors import Forbidden

# Enough candidates per theme for a page of suggestions.
PER_THEME = 50


async def suggestions(
    uow: UnitOfWork, principal: Principal, need: Need, now: datetime, limit: int = 10
) -> list[Suggestion]:
    """Sheets (the département's and national ones), upcoming trainings of the
    département and published experiences that share a theme with ``need``."""
    if principal.role is not Role.ADMIN and principal.departement != need.departement:
        raise Forbidden("Vous ne consultez que les ressources de votre département.")
    candidates: list[Candidate] = []
    for theme in need.themes:
        hits, _ = await uow.search_index.search(
            SearchQuery(departement=need.departement, theme=theme), limit=PER_THEME, offset=0
        )
        candidates += [
            Candidate(
                candidate_kind(h.kind),
                h.id,
                h.title,
                h.themes,
                h.phases,
                population=h.commune_population,
            )
            for h in hits
        ]
    candidates += [of_session(s) for s in await uow.trainings.upcoming(need.departement, now)]
    return suggest(need, candidates, limit)
