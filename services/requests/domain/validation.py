"""The rules a demande must follow before it is accepted, as French messages.

Pure: the reference data and the current date are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.contracts.requests import RequestDraft
from shared.contracts.vocabulary import RequesterKind
from shared.errors import FieldError
from shared.refdata import Commune, Territories, requester_kind

MAX_HORIZON = timedelta(days=365 * 10)


@dataclass(frozen=True, slots=True)
class ResolvedRequester:
    kind: RequesterKind
    code: str
    name: str
    population: int


def resolve_requester(
    code: str, departement: str, territories: Territories
) -> tuple[ResolvedRequester | None, list[FieldError]]:
    kind = requester_kind(code)
    if kind is None:
        return None, [
            FieldError(
                "requester_code",
                "Code invalide : code INSEE de commune (5 caractères) "
                "ou SIREN d'EPCI (9 chiffres) attendu.",
            )
        ]
    found = territories.requester(code)
    if found is None:
        label = "commune" if kind == "commune" else "EPCI"
        return None, [
            FieldError(
                "requester_code",
                f"Aucune {label} de code {code} dans le référentiel officiel (INSEE).",
            )
        ]
    if not territories.belongs_to(code, departement):
        return None, [
            FieldError(
                "requester_code",
                f"{found.nom} ({code}) n'appartient pas au département {departement}.",
            )
        ]
    if isinstance(found, Commune):
        return ResolvedRequester(RequesterKind.COMMUNE, code, found.nom, found.population), []
    return ResolvedRequester(RequesterKind.EPCI, code, found.nom, found.population), []


def check_draft(draft: RequestDraft, today: date) -> list[FieldError]:
    """Rules beyond the schema: content that is not blank, plausible dates."""
    errors: list[FieldError] = []
    if not draft.title.strip():
        errors.append(FieldError("title", "Le titre ne peut pas être vide."))
    if not draft.description.strip():
        errors.append(FieldError("description", "La description ne peut pas être vide."))
    if len(set(draft.themes)) != len(draft.themes):
        errors.append(FieldError("themes", "Chaque thème ne doit figurer qu'une fois."))
    for name, value in (("wished_start", draft.wished_start), ("wished_end", draft.wished_end)):
        if value is None:
            continue
        if value < today:
            errors.append(FieldError(name, "La date souhaitée ne peut pas être dans le passé."))
        elif value > today + MAX_HORIZON:
            errors.append(FieldError(name, "La date souhaitée est à plus de dix ans."))
    if draft.wished_start and draft.wished_end and draft.wished_end < draft.wished_start:
        errors.append(
            FieldError("wished_end", "La date de fin souhaitée précède la date de début.")
        )
    return errors
