"""What fits a need: the sheets, upcoming trainings and published retours d'expérience to
show beside a demande, each with the reason it was chosen (issue 17, item 4).

A candidate must share a theme with the need; it ranks higher when it also fits the
phase, and, for an experience, when it comes from a collectivité of the same size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from services.resources.domain.sheets import CommuneSize, HitKind, commune_size
from services.resources.domain.trainings import TrainingSession
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS, Phase, Theme
from shared.french import long_date


class SuggestionKind(StrEnum):
    SHEET = "sheet"
    TRAINING = "training"
    EXPERIENCE = "experience"


@dataclass(frozen=True, slots=True)
class Need:
    departement: str
    themes: list[Theme]
    phase: Phase | None
    population: int | None


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: SuggestionKind
    id: UUID
    title: str
    themes: list[Theme]
    phases: list[Phase]
    population: int | None = None
    starts_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: SuggestionKind
    id: UUID
    title: str
    reason: str
    score: int


SIZE_WORDS = {
    CommuneSize.UNDER_500: "de moins de 500 habitants",
    CommuneSize.UNDER_2000: "de 500 à 1 999 habitants",
    CommuneSize.UNDER_10000: "de 2 000 à 9 999 habitants",
    CommuneSize.OVER_10000: "de 10 000 habitants et plus",
}


def candidate_kind(hit_kind: HitKind) -> SuggestionKind:
    return SuggestionKind.SHEET if hit_kind is HitKind.SHEET else SuggestionKind.EXPERIENCE


def of_session(session: TrainingSession) -> Candidate:
    return Candidate(
        SuggestionKind.TRAINING,
        session.id,
        session.title,
        session.themes,
        [],
        starts_at=session.starts_at,
    )


def _reason(need: Need, candidate: Candidate) -> tuple[str, int] | None:
    shared = [t for t in candidate.themes if t in need.themes]
    if not shared:
        return None
    words = [f"même thème ({THEME_LABELS[shared[0]]})"]
    score = 2
    if need.phase is not None and need.phase in candidate.phases:
        words.append(f"même phase ({PHASE_LABELS[need.phase]})")
        score += 1
    if candidate.kind is SuggestionKind.EXPERIENCE and need.population is not None:
        size = commune_size(need.population)
        if candidate.population is not None and commune_size(candidate.population) is size:
            words.append(f"collectivité {SIZE_WORDS[size]} comme la vôtre")
            score += 1
    if candidate.kind is SuggestionKind.TRAINING and candidate.starts_at is not None:
        words.append(f"session du {long_date(candidate.starts_at.date())}")
    reason = ", ".join(words)
    return reason[0].upper() + reason[1:] + ".", score


def suggest(need: Need, candidates: list[Candidate], limit: int) -> list[Suggestion]:
    """The best ``limit`` candidates, best first (ties: trainings soonest, then titles)."""
    found: list[Suggestion] = []
    for candidate in candidates:
        fitted = _reason(need, candidate)
        if fitted is not None:
            found.append(Suggestion(candidate.kind, candidate.id, candidate.title, *fitted))
    unique = {(s.kind, s.id): s for s in found}.values()
    return sorted(unique, key=lambda s: (-s.score, s.kind.value, s.title, s.id))[:limit]
