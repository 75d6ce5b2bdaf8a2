"""The documentation sheet: what a département (or the whole network) explains once, so that
every collectivité can read it; and the words of a search over sheets and experiences."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from shared.contracts.resources import SheetKind
from shared.contracts.vocabulary import Phase, Theme
from shared.errors import DomainValidationError, FieldError

MAX_LINKS = 20


@dataclass(slots=True)
class Sheet:
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
    version: int
    created_at: datetime
    updated_at: datetime

    def to_review(self, today: date) -> bool:
        """« À revoir »: its review date has passed, its content may be out of date."""
        return today > self.review_on


def check_sheet(
    *, title: str, summary: str, body: str, themes: list[Theme], links: list[str]
) -> None:
    errors: list[FieldError] = []
    if len(title.strip()) < 5:
        errors.append(FieldError("title", "Le titre doit compter au moins 5 caractères."))
    if len(summary.strip()) < 10:
        errors.append(FieldError("summary", "Le résumé doit compter au moins 10 caractères."))
    if not body.strip():
        errors.append(FieldError("body", "Le contenu de la fiche est vide."))
    if not themes:
        errors.append(FieldError("themes", "Indiquez au moins un thème."))
    if len(links) > MAX_LINKS:
        errors.append(FieldError("links", f"Au plus {MAX_LINKS} liens."))
    errors += [
        FieldError("links", f"Lien non pris en charge : {link[:80]}")
        for link in links
        if not link.startswith(("https://", "http://"))
    ]
    if errors:
        raise DomainValidationError(errors)


class HitKind(StrEnum):
    SHEET = "sheet"
    EXPERIENCE = "experience"


class CommuneSize(StrEnum):
    """Population classes, so that a small commune finds what similar communes did."""

    UNDER_500 = "moins_de_500"
    UNDER_2000 = "500_a_2000"
    UNDER_10000 = "2000_a_10000"
    OVER_10000 = "plus_de_10000"


SIZE_BOUNDS: dict[CommuneSize, tuple[int, int | None]] = {
    CommuneSize.UNDER_500: (0, 500),
    CommuneSize.UNDER_2000: (500, 2000),
    CommuneSize.UNDER_10000: (2000, 10000),
    CommuneSize.OVER_10000: (10000, None),
}


def commune_size(population: int) -> CommuneSize:
    for size, (low, high) in SIZE_BOUNDS.items():
        if population >= low and (high is None or population < high):
            return size
    return CommuneSize.OVER_10000


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A search: free text (web-search syntax: quotes, ``or``, ``-``) and filters; a filter
    left ``None`` is open. ``departement`` shows its own sheets and the national ones."""

    text: str = ""
    departement: str | None = None
    theme: Theme | None = None
    phase: Phase | None = None
    kind: SheetKind | None = None
    commune_size: CommuneSize | None = None
    include: tuple[HitKind, ...] = (HitKind.SHEET, HitKind.EXPERIENCE)


@dataclass(frozen=True, slots=True)
class SearchHit:
    kind: HitKind
    id: UUID
    departement: str
    title: str
    summary: str
    # Fragments of the text around the words found, matches between <mark> and </mark>;
    # the rest of the text is HTML-escaped.
    headline: str
    rank: float
    themes: list[Theme] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    sheet_kind: SheetKind | None = None
    review_on: date | None = None
    commune_population: int | None = None
