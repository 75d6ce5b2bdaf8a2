"""The offer of a département as a JSON document: parsing, checking, and the reverse.

One document per département::

    {"departement": "49", "actors": [{"id": ..., "name": ..., "kind": ...,
      "themes": {"energie": 3}, "phases": ["idee", ...],
      "territory": {"departements": [], "epcis": [], "communes": []},
      "capacity": 10,
      "eligibility": {"min_population": null, "max_population": 10000,
                      "members_only": false, "requester_kinds": ["commune"]}}]}

Every error names the actor and the field, in French: the catalogue is written
by a département's team, who must be able to fix it from the message alone.
Whether a territory code exists is the reference data's business, not checked
here; its format and its département are.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

from services.matching.domain.model import (
    Actor,
    ActorKind,
    Eligibility,
    Expertise,
    Territory,
)
from shared.contracts.base import CONTROL_CHARACTERS
from shared.contracts.vocabulary import Phase, RequesterKind, Theme

_SHIPPED_PACKAGE = "services.matching.catalogues"

_DEPARTEMENT = re.compile(r"0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6]")
_SIREN = re.compile(r"[0-9]{9}")
_ACTOR_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# Bounds of what a person types in a catalogue: the name is shown in messages and lists.
MAX_NAME = 200

_DOCUMENT_KEYS = frozenset({"departement", "actors"})
_ACTOR_KEYS = frozenset(
    {
        "id",
        "departement",
        "name",
        "kind",
        "themes",
        "phases",
        "territory",
        "capacity",
        "eligibility",
        "active",
    }
)
_REQUIRED_ACTOR_KEYS = ("id", "name", "kind", "themes", "phases", "territory", "capacity")
_TERRITORY_KEYS = frozenset({"departements", "epcis", "communes"})
_ELIGIBILITY_KEYS = frozenset(
    {"min_population", "max_population", "members_only", "requester_kinds"}
)

_E = TypeVar("_E", Theme, Phase, ActorKind, RequesterKind)


class CatalogueError(ValueError):
    """The catalogue document is not valid; the message (French) says where and why."""


def parse_catalogue(raw: str | bytes, *, departement: str | None = None) -> list[Actor]:
    """The actors of a catalogue given as JSON text.

    With ``departement``, the document must be that département's catalogue.
    """
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CatalogueError(f"Catalogue illisible : JSON invalide ({error}).") from error
    return actors_from_document(document, departement=departement)


def read_catalogue(source: Path | Traversable, *, departement: str | None = None) -> list[Actor]:
    """The actors of the catalogue file at ``source``."""
    return parse_catalogue(source.read_bytes(), departement=departement)


def actors_from_document(document: object, *, departement: str | None = None) -> list[Actor]:
    """The actors of an already decoded catalogue document (e.g. an uploaded JSON body)."""
    if not isinstance(document, dict):
        raise CatalogueError("Catalogue invalide : le document doit être un objet JSON.")
    _refuse_unknown(document, _DOCUMENT_KEYS, "Catalogue invalide")
    code = document.get("departement")
    if not isinstance(code, str) or not _DEPARTEMENT.fullmatch(code):
        raise CatalogueError(
            f"Catalogue invalide : champ « departement » : code de département inconnu {code!r}."
        )
    if departement is not None and code != departement:
        raise CatalogueError(
            f"Catalogue invalide : il décrit l'offre du département {code}, "
            f"pas celle du département {departement}."
        )
    entries = document.get("actors")
    if not isinstance(entries, list):
        raise CatalogueError(
            f"Catalogue {code} invalide : champ « actors » : une liste d'acteurs est attendue."
        )

    actors: list[Actor] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        actor = _actor(entry, code, position)
        if actor.id in seen:
            raise CatalogueError(
                f"Catalogue {code}, acteur « {actor.id} » : identifiant déjà utilisé "
                "par un autre acteur du catalogue."
            )
        seen.add(actor.id)
        actors.append(actor)
    return actors


def shipped_departements() -> tuple[str, ...]:
    """The départements whose catalogue ships with the service."""
    folder = resources.files(_SHIPPED_PACKAGE)
    names = (entry.name for entry in folder.iterdir() if entry.is_file())
    return tuple(sorted(name.removesuffix(".json") for name in names if name.endswith(".json")))


def load_shipped(departement: str) -> list[Actor]:
    """The actors of the catalogue shipped for ``departement``."""
    return list(_shipped(departement))


@functools.cache
def _shipped(departement: str) -> tuple[Actor, ...]:
    if departement not in shipped_departements():
        raise CatalogueError(f"Aucun catalogue livré pour le département {departement!r}.")
    source = resources.files(_SHIPPED_PACKAGE).joinpath(f"{departement}.json")
    return tuple(read_catalogue(source, departement=departement))


def actor_to_dict(actor: Actor) -> dict[str, Any]:
    """``actor`` as a catalogue entry (JSON-ready, in a stable order); ``_actor`` reads it back."""
    eligibility = actor.eligibility
    return {
        "id": actor.id,
        "departement": actor.departement,
        "name": actor.name,
        "kind": actor.kind.value,
        "themes": {
            theme.value: int(actor.themes[theme]) for theme in Theme if theme in actor.themes
        },
        "phases": [phase.value for phase in Phase if phase in actor.phases],
        "territory": {
            "departements": sorted(actor.territory.departements),
            "epcis": sorted(actor.territory.epcis),
            "communes": sorted(actor.territory.communes),
        },
        "capacity": actor.capacity,
        "eligibility": {
            "min_population": eligibility.min_population,
            "max_population": eligibility.max_population,
            "members_only": eligibility.members_only,
            "requester_kinds": [
                kind.value for kind in RequesterKind if kind in eligibility.requester_kinds
            ],
        },
        "active": actor.active,
    }


def catalogue_to_dict(departement: str, actors: Sequence[Actor]) -> dict[str, Any]:
    """A whole catalogue document, actors by id."""
    return {
        "departement": departement,
        "actors": [actor_to_dict(actor) for actor in sorted(actors, key=lambda a: a.id)],
    }


# --- one actor ----------------------------------------------------------------------------------


def _actor(entry: object, departement: str, position: int) -> Actor:
    where = f"Catalogue {departement}, acteur n° {position}"
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where} : un objet JSON est attendu.")
    actor_id = entry.get("id")
    if not isinstance(actor_id, str) or not _ACTOR_ID.fullmatch(actor_id):
        raise CatalogueError(
            f"{where}, champ « id » : identifiant invalide {actor_id!r} "
            "(minuscules, chiffres, « . », « _ » ou « - », 64 caractères au plus)."
        )
    where = f"Catalogue {departement}, acteur « {actor_id} »"
    _refuse_unknown(entry, _ACTOR_KEYS, where)
    for key in _REQUIRED_ACTOR_KEYS:
        if key not in entry:
            raise CatalogueError(f"{where}, champ « {key} » : champ obligatoire absent.")

    own = entry.get("departement", departement)
    if own != departement:
        raise CatalogueError(
            f"{where}, champ « departement » : l'acteur appartient au département {own!r}, "
            f"pas au catalogue du département {departement}."
        )
    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        raise CatalogueError(f"{where}, champ « name » : un nom non vide est attendu.")
    if len(name) > MAX_NAME or CONTROL_CHARACTERS.search(name):
        raise CatalogueError(
            f"{where}, champ « name » : {MAX_NAME} caractères au plus, sur une ligne, sans "
            "caractère de contrôle."
        )
    active = entry.get("active", True)
    if not isinstance(active, bool):
        raise CatalogueError(f"{where}, champ « active » : true ou false est attendu.")

    return Actor(
        id=actor_id,
        departement=departement,
        name=name.strip(),
        kind=_member(ActorKind, entry["kind"], f"{where}, champ « kind »", "type d'acteur inconnu"),
        themes=_themes(entry["themes"], where),
        phases=_phases(entry["phases"], where),
        territory=_territory(entry["territory"], departement, where),
        capacity=_capacity(entry["capacity"], where),
        eligibility=_eligibility(entry.get("eligibility", {}), where),
        active=active,
    )


def _themes(value: object, where: str) -> dict[Theme, Expertise]:
    if not isinstance(value, dict) or not value:
        raise CatalogueError(
            f"{where}, champ « themes » : au moins un thème est attendu, "
            'sous la forme {"thème": niveau de 1 à 3}.'
        )
    themes: dict[Theme, Expertise] = {}
    for key, level in value.items():
        field = f"{where}, champ « themes.{key} »"
        theme = _member(Theme, key, field, "thème inconnu")
        if not _is_int(level) or not 1 <= level <= 3:
            raise CatalogueError(
                f"{field} : niveau d'expertise {level!r} hors de 1 à 3 "
                "(1 notions, 2 confirmée, 3 experte)."
            )
        themes[theme] = Expertise(level)
    return themes


def _phases(value: object, where: str) -> frozenset[Phase]:
    field = f"{where}, champ « phases »"
    if not isinstance(value, list) or not value:
        raise CatalogueError(f"{field} : au moins une phase est attendue.")
    return frozenset(_member(Phase, item, field, "phase inconnue") for item in value)


def _territory(value: object, departement: str, where: str) -> Territory:
    if not isinstance(value, dict):
        raise CatalogueError(f"{where}, champ « territory » : un objet JSON est attendu.")
    _refuse_unknown(value, _TERRITORY_KEYS, f"{where}, champ « territory »")
    departements = _codes(value, "departements", where)
    epcis = _codes(value, "epcis", where)
    communes = _codes(value, "communes", where)
    if not (departements or epcis or communes):
        raise CatalogueError(
            f"{where}, champ « territory » : au moins un département, EPCI ou commune est attendu."
        )
    for code in sorted(departements):
        if code != departement:
            raise CatalogueError(
                f"{where}, champ « territory.departements » : le département {code!r} "
                f"n'est pas celui du catalogue ({departement})."
            )
    for code in sorted(epcis):
        if not _SIREN.fullmatch(code):
            raise CatalogueError(
                f"{where}, champ « territory.epcis » : {code!r} n'est pas un SIREN (9 chiffres)."
            )
    for code in sorted(communes):
        # INSEE codes begin with their département's code: 49007 is in 49, 97101 in 971.
        if len(code) != 5 or not code.startswith(departement) or not code[2:].isdigit():
            raise CatalogueError(
                f"{where}, champ « territory.communes » : {code!r} n'est pas le code INSEE "
                f"d'une commune du département {departement}."
            )
    return Territory(departements=departements, epcis=epcis, communes=communes)


def _codes(value: Mapping[str, object], key: str, where: str) -> frozenset[str]:
    codes = value.get(key, [])
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise CatalogueError(
            f"{where}, champ « territory.{key} » : une liste de codes (textes) est attendue."
        )
    return frozenset(codes)


def _capacity(value: object, where: str) -> int:
    if not _is_int(value) or value < 1:
        raise CatalogueError(
            f"{where}, champ « capacity » : capacité {value!r} invalide, "
            "un entier d'au moins 1 est attendu."
        )
    return value


def _eligibility(value: object, where: str) -> Eligibility:
    field = f"{where}, champ « eligibility »"
    if not isinstance(value, dict):
        raise CatalogueError(f"{field} : un objet JSON est attendu.")
    _refuse_unknown(value, _ELIGIBILITY_KEYS, field)
    low = _population(value, "min_population", where)
    high = _population(value, "max_population", where)
    if low is not None and high is not None and low > high:
        raise CatalogueError(
            f"{field} : population minimale ({low}) supérieure à la maximale ({high})."
        )
    members_only = value.get("members_only", False)
    if not isinstance(members_only, bool):
        raise CatalogueError(
            f"{where}, champ « eligibility.members_only » : true ou false est attendu."
        )
    kinds_field = f"{where}, champ « eligibility.requester_kinds »"
    kinds = value.get("requester_kinds", [kind.value for kind in RequesterKind])
    if not isinstance(kinds, list) or not kinds:
        raise CatalogueError(f"{kinds_field} : au moins un type de collectivité est attendu.")
    return Eligibility(
        min_population=low,
        max_population=high,
        members_only=members_only,
        requester_kinds=frozenset(
            _member(RequesterKind, kind, kinds_field, "type de collectivité inconnu")
            for kind in kinds
        ),
    )


def _population(value: Mapping[str, object], key: str, where: str) -> int | None:
    bound = value.get(key)
    if bound is None:
        return None
    if not _is_int(bound) or bound < 0:
        raise CatalogueError(
            f"{where}, champ « eligibility.{key} » : un nombre d'habitants positif "
            f"ou null est attendu, pas {bound!r}."
        )
    return bound


def _member(enum: type[_E], value: object, field: str, problem: str) -> _E:
    if isinstance(value, str) and value in {member.value for member in enum}:
        return enum(value)
    allowed = ", ".join(member.value for member in enum)
    raise CatalogueError(f"{field} : {problem} {value!r} (valeurs admises : {allowed}).")


def _refuse_unknown(value: Mapping[str, object], allowed: frozenset[str], where: str) -> None:
    # A misspelt optional field ("eligibilty") would otherwise be silently ignored.
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise CatalogueError(
            f"{where} : champ(s) inconnu(s) {', '.join(unknown)} "
            f"(champs admis : {', '.join(sorted(allowed))})."
        )


def _is_int(value: object) -> TypeGuard[int]:
    # JSON true/false decode to bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)
