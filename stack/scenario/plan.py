"""What the scenario plays, drawn from its seed alone: the demandes (requester, body,
channel, identifier, withdrawal) and every answer of the actors."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.contracts.vocabulary import Phase, Theme
from shared.refdata import Territories

DEPARTEMENTS = ("49", "35", "24")

PROJECTS: dict[Theme, list[str]] = {
    Theme.URBANISME: [
        "Révision du PLU",
        "Élaboration d'une carte communale",
        "Aménagement du centre-bourg",
    ],
    Theme.EAU_ASSAINISSEMENT: [
        "Mise aux normes de la station d'épuration",
        "Schéma directeur d'eau pluviale",
    ],
    Theme.VOIRIE_RESEAUX: [
        "Réfection de la voirie communale",
        "Sécurisation de la traversée du bourg",
    ],
    Theme.BATIMENTS_PUBLICS: [
        "Rénovation de l'école",
        "Réhabilitation de la mairie",
        "Extension de la salle des fêtes",
    ],
    Theme.ENERGIE: [
        "Rénovation énergétique des bâtiments communaux",
        "Réseau de chaleur bois",
        "Éclairage public LED",
    ],
    Theme.ENVIRONNEMENT_BIODIVERSITE: [
        "Restauration d'une zone humide",
        "Atlas de la biodiversité communale",
    ],
    Theme.ARCHITECTURE_PAYSAGE: [
        "Requalification de la place de l'église",
        "Aménagement paysager des bords de Loire",
    ],
    Theme.ECONOMIE_COMMERCE: ["Reprise du dernier commerce", "Création d'un tiers-lieu"],
    Theme.MOBILITE: ["Plan de mobilité simplifié", "Liaison cyclable vers le collège"],
    Theme.HABITAT: ["Opération programmée d'amélioration de l'habitat", "Lotissement communal"],
    Theme.JURIDIQUE_MARCHES_PUBLICS: [
        "Rédaction d'un marché de maîtrise d'œuvre",
        "Délégation de service public",
    ],
    Theme.FINANCES_LOCALES: ["Prospective financière du mandat", "Montage du plan de financement"],
    Theme.NUMERIQUE: ["Dématérialisation des actes", "Site internet de la commune"],
    Theme.FORMATION_ELUS: [
        "Formation des nouveaux élus à l'urbanisme",
        "Formation aux marchés publics",
    ],
}
FIRST_NAMES = [
    "Marie",
    "Jean",
    "Nathalie",
    "Philippe",
    "Sophie",
    "Michel",
    "Isabelle",
    "Alain",
    "Claire",
    "Luc",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
]
ROLES = ["Maire", "Adjoint à l'urbanisme", "Secrétaire de mairie", "Directeur général des services"]

# Shares of the scenario: demandes filed as command events, withdrawn by their team;
# demandes whose first proposal is left to expire, proposals declined, missions left running.
BY_EVENT = 0.2
FILED_BY_COLLECTIVITE = 0.5
WITHDRAWN_ONE_IN = 20
LEFT_TO_EXPIRE = 0.15
DECLINED = 0.2
STILL_RUNNING = 0.3


class Answer(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    LET_EXPIRE = "let_expire"


@dataclass(frozen=True)
class Demande:
    """One demande of the plan; ``index`` is its stable identity within the seed."""

    index: int
    departement: str
    request_id: str
    requester_code: str
    body: dict[str, Any]
    by_event: bool
    filed_by_collectivite: bool
    withdrawn: bool


def draft(rng: random.Random, code: str, population: int, nom: str, today: date) -> dict[str, Any]:
    """The body of a plausible demande of ``nom`` (a commune or an EPCI)."""
    themes = rng.sample(list(PROJECTS), k=rng.choice((1, 1, 1, 2, 2, 3)))
    title = rng.choice(PROJECTS[themes[0]])
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    start = today + timedelta(days=rng.randint(20, 240))
    budget = Decimal(rng.randint(5, 400) * max(population, 100)) / Decimal(10)
    return {
        "requester_code": code,
        "contact": {
            "name": f"{first} {last}",
            "email": f"{first}.{last}@mairie-{code}.example.fr".lower(),
            "role": rng.choice(ROLES),
        },
        "title": f"{title} — {nom}"[:200],
        "description": (
            f"{nom} ({population} habitants) sollicite un accompagnement pour : {title.lower()}. "
            "Besoin d'appui technique pour cadrer le projet, estimer son coût "
            "et choisir la procédure."
        ),
        "themes": [t.value for t in themes],
        "phase": rng.choice(list(Phase)).value,
        "estimated_budget": str(budget.quantize(Decimal("0.01"))),
        "wished_start": start.isoformat(),
        "wished_end": (start + timedelta(days=rng.randint(60, 700))).isoformat(),
    }


def requesters(
    territories: Territories, rng: random.Random, departement: str, n: int
) -> list[tuple[str, int, str]]:
    """``n`` requesters of the département (code, population, name): communes under
    20,000 inhabitants, and EPCI for about one in seven."""
    communes = [c for c in territories.communes_of(departement) if c.population < 20_000]
    epcis = list(territories.epcis_of(departement))
    chosen: list[tuple[str, int, str]] = []
    for _ in range(n):
        if rng.random() < 0.15 and epcis:
            e = rng.choice(epcis)
            chosen.append((e.siren, e.population, e.nom))
        else:
            c = rng.choice(communes)
            chosen.append((c.code_insee, c.population, c.nom))
    return chosen


def plan(
    seed: int,
    demandes: int,
    departements: Sequence[str],
    territories: Territories,
    today: date,
) -> list[Demande]:
    """The demandes of the scenario, the same for the same arguments; each département
    files ``demandes // len(departements)`` of them, in index order."""
    rng = random.Random(seed)
    per_departement = demandes // len(departements)
    planned: list[Demande] = []
    for departement in departements:
        mine: list[Demande] = []
        for code, population, nom in requesters(territories, rng, departement, per_departement):
            mine.append(
                Demande(
                    index=len(planned) + len(mine),
                    departement=departement,
                    request_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    requester_code=code,
                    body=draft(rng, code, population, nom, today),
                    by_event=rng.random() < BY_EVENT,
                    filed_by_collectivite=rng.random() < FILED_BY_COLLECTIVITE,
                    withdrawn=False,
                )
            )
        withdrawn = set(rng.sample(range(len(mine)), k=max(1, len(mine) // WITHDRAWN_ONE_IN)))
        planned += [replace(d, withdrawn=True) if i in withdrawn else d for i, d in enumerate(mine)]
    return planned


def _draw(seed: int, *identity: object) -> random.Random:
    """A generator of its own for one decision: the same identity, the same draws."""
    return random.Random(":".join(str(part) for part in (seed, *identity)))


def lets_expire(seed: int, demande: Demande) -> bool:
    """Whether the first proposal of the demande (its lowest actor id, round 1) is left
    to expire. One at most per demande: two expiring together would be replaced in the
    order the expiry sweep takes them, which no seed decides."""
    return _draw(seed, demande.index, "expire").random() < LEFT_TO_EXPIRE


def answer(seed: int, demande: Demande, actor_id: str, round_: int, first: bool) -> Answer:
    """What ``actor_id`` answers to its proposal of round ``round_`` for the demande
    (``first``: the round-1 proposal with the lowest actor id). Replacements are accepted."""
    if round_ > 1:
        return Answer.ACCEPT
    if first and lets_expire(seed, demande):
        return Answer.LET_EXPIRE
    if _draw(seed, demande.index, actor_id, round_).random() < DECLINED:
        return Answer.DECLINE
    return Answer.ACCEPT


def days_spent(seed: int, demande: Demande, actor_id: str) -> Decimal | None:
    """The days the actor reports when completing its mission; None while it still runs
    at the end of the scenario."""
    rng = _draw(seed, demande.index, actor_id, "complete")
    if rng.random() < STILL_RUNNING:
        return None
    return Decimal(rng.randint(2, 60)) / Decimal(2)
