"""The catalogues of the offer: the shipped ones are sound, bad ones are refused in French."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.matching.domain.catalogue import (
    CatalogueError,
    actor_to_dict,
    actors_from_document,
    catalogue_to_dict,
    load_shipped,
    parse_catalogue,
    read_catalogue,
    shipped_departements,
)
from services.matching.domain.matcher import propose
from services.matching.domain.model import ActorKind, Expertise, Need, Requester
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.refdata import Territories, get_territories

ANGERS_LOIRE_METROPOLE = "244900015"


@pytest.fixture(scope="module")
def territories() -> Territories:
    return get_territories()


# --- the shipped catalogues ----------------------------------------------------------------------


def test_three_departements_are_shipped() -> None:
    assert shipped_departements() == ("24", "35", "49")


@pytest.mark.parametrize("departement", ["24", "35", "49"])
def test_a_shipped_catalogue_loads_and_is_plausible(departement: str) -> None:
    actors = load_shipped(departement)

    assert 6 <= len(actors) <= 10
    assert len({actor.id for actor in actors}) == len(actors)
    assert all(actor.departement == departement for actor in actors)
    assert all(3 <= actor.capacity <= 40 for actor in actors)
    kinds = {actor.kind for actor in actors}
    assert {ActorKind.CAUE, ActorKind.SYNDICAT_ENERGIE, ActorKind.CNFPT} <= kinds
    assert kinds & {ActorKind.DDT}
    assert kinds & {ActorKind.DEPARTEMENT, ActorKind.ATD}
    # Somebody works for only part of the département.
    assert any(not actor.territory.departements for actor in actors)


@pytest.mark.parametrize("departement", ["24", "35", "49"])
def test_every_territory_code_is_real_and_in_the_departement(
    departement: str, territories: Territories
) -> None:
    for actor in load_shipped(departement):
        assert actor.territory.departements <= {departement}, actor.id
        for siren in actor.territory.epcis:
            epci = territories.epci(siren)
            assert epci is not None, (actor.id, siren)
            assert departement in epci.departement_codes, (actor.id, siren)
        for code in actor.territory.communes:
            commune = territories.commune(code)
            assert commune is not None, (actor.id, code)
            assert commune.departement_code == departement, (actor.id, code)


def test_maine_et_loire_covers_every_theme_but_not_every_phase() -> None:
    actors = load_shipped("49")
    assert {theme for actor in actors for theme in actor.themes} == set(Theme)

    def covered(theme: Theme, phase: Phase) -> bool:
        return any(theme in actor.themes and phase in actor.phases for actor in actors)

    # Gaps that make "no actor available" happen for real.
    assert not covered(Theme.NUMERIQUE, Phase.TRAVAUX)
    assert not covered(Theme.ECONOMIE_COMMERCE, Phase.TRAVAUX)
    assert not covered(Theme.ARCHITECTURE_PAYSAGE, Phase.EXPLOITATION)
    assert covered(Theme.ENERGIE, Phase.EXPLOITATION)


def test_maine_et_loire_keeps_the_seed_actors_and_their_rules() -> None:
    actors = {actor.id: actor for actor in load_shipped("49")}

    departement = actors["cd49-ingenierie"]
    assert departement.eligibility.max_population == 10_000
    assert departement.eligibility.requester_kinds == frozenset({RequesterKind.COMMUNE})
    assert actors["amf49"].eligibility.members_only
    assert set(actors["cnfpt-49"].themes) == {Theme.FORMATION_ELUS}
    assert actors["sieml"].themes[Theme.ENERGIE] is Expertise.EXPERT
    assert actors["sieml"].phases == frozenset(Phase)
    agence = actors["aura-angers"]
    assert agence.territory.epcis == frozenset({ANGERS_LOIRE_METROPOLE})
    assert not agence.territory.departements


def test_the_shipped_offer_of_maine_et_loire_answers_a_demande_of_angers() -> None:
    angers = Requester(
        kind=RequesterKind.COMMUNE,
        code="49007",
        departement="49",
        population=152_960,
        commune_codes=frozenset({"49007"}),
        epci_codes=frozenset({ANGERS_LOIRE_METROPOLE}),
        departement_codes=frozenset({"49"}),
    )
    wanted = [
        Need(Theme.ARCHITECTURE_PAYSAGE, Phase.CONCEPTION),
        Need(Theme.MOBILITE, Phase.CONCEPTION),
        Need(Theme.ENERGIE, Phase.CONCEPTION),
    ]
    proposal = propose(wanted, angers, load_shipped("49"), {})

    assert {link.candidate.actor.id for link in proposal.links} == {
        "caue49",
        "aura-angers",
        "sieml",
    }
    assert proposal.uncovered == ()
    excluded = {exclusion.actor_id: exclusion.reason for exclusion in proposal.exclusions}
    assert "152\u202f960" in excluded["cd49-ingenierie"]


def test_load_shipped_refuses_a_departement_without_catalogue() -> None:
    with pytest.raises(CatalogueError, match="Aucun catalogue livré pour le département '75'"):
        load_shipped("75")


# --- round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("departement", ["24", "35", "49"])
def test_actor_to_dict_reads_back_to_the_same_actors(departement: str) -> None:
    actors = load_shipped(departement)
    document = catalogue_to_dict(departement, actors)

    assert json.loads(json.dumps(document)) == document
    again = parse_catalogue(json.dumps(document), departement=departement)
    assert sorted(again, key=lambda a: a.id) == sorted(actors, key=lambda a: a.id)
    assert actor_to_dict(actors[0])["departement"] == departement


def test_a_catalogue_file_is_read_from_its_path(tmp_path: Path) -> None:
    path = tmp_path / "49.json"
    path.write_text(json.dumps(valid_document()), encoding="utf-8")
    (actor,) = read_catalogue(path, departement="49")
    assert actor.name == "CAUE de Maine-et-Loire"
    assert actor.themes == {Theme.ARCHITECTURE_PAYSAGE: Expertise.EXPERT}


# --- bad catalogues ------------------------------------------------------------------------------


def valid_document() -> dict[str, Any]:
    return {
        "departement": "49",
        "actors": [
            {
                "id": "caue49",
                "name": "CAUE de Maine-et-Loire",
                "kind": "caue",
                "themes": {"architecture_paysage": 3},
                "phases": ["idee", "faisabilite", "conception"],
                "territory": {"departements": ["49"], "epcis": [], "communes": []},
                "capacity": 10,
                "eligibility": {
                    "min_population": None,
                    "max_population": None,
                    "members_only": False,
                    "requester_kinds": ["commune", "epci"],
                },
            }
        ],
    }


def actor_change(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(valid_document())
    change(document["actors"][0])
    return document


BAD_ACTORS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "unknown theme",
        lambda a: a["themes"].update({"patrimoine": 2}),
        "champ « themes.patrimoine » : thème inconnu 'patrimoine'",
    ),
    (
        "level above 3",
        lambda a: a["themes"].update({"architecture_paysage": 4}),
        "champ « themes.architecture_paysage » : niveau d'expertise 4 hors de 1 à 3",
    ),
    (
        "level 0",
        lambda a: a["themes"].update({"architecture_paysage": 0}),
        "niveau d'expertise 0 hors de 1 à 3",
    ),
    (
        "level as a boolean",
        lambda a: a["themes"].update({"architecture_paysage": True}),
        "niveau d'expertise True hors de 1 à 3",
    ),
    ("no theme", lambda a: a.update(themes={}), "champ « themes » : au moins un thème"),
    (
        "unknown phase",
        lambda a: a["phases"].append("demolition"),
        "champ « phases » : phase inconnue 'demolition'",
    ),
    ("no phase", lambda a: a.update(phases=[]), "champ « phases » : au moins une phase"),
    (
        "unknown kind",
        lambda a: a.update(kind="bureau_etudes"),
        "champ « kind » : type d'acteur inconnu 'bureau_etudes'",
    ),
    ("capacity 0", lambda a: a.update(capacity=0), "champ « capacity » : capacité 0 invalide"),
    ("capacity as text", lambda a: a.update(capacity="10"), "capacité '10' invalide"),
    (
        "actor of another departement",
        lambda a: a.update(departement="35"),
        "l'acteur appartient au département '35', pas au catalogue du département 49",
    ),
    (
        "territory in another departement",
        lambda a: a["territory"].update(departements=["44"]),
        "champ « territory.departements » : le département '44' n'est pas celui du catalogue",
    ),
    (
        "commune of another departement",
        lambda a: a["territory"].update(communes=["35238"]),
        "'35238' n'est pas le code INSEE d'une commune du département 49",
    ),
    (
        "malformed EPCI",
        lambda a: a["territory"].update(epcis=["24490001"]),
        "'24490001' n'est pas un SIREN",
    ),
    (
        "empty territory",
        lambda a: a.update(territory={}),
        "au moins un département, EPCI ou commune",
    ),
    (
        "unknown requester kind",
        lambda a: a["eligibility"].update(requester_kinds=["region"]),
        "type de collectivité inconnu 'region'",
    ),
    (
        "min above max",
        lambda a: a["eligibility"].update(min_population=5000, max_population=1000),
        "population minimale (5000) supérieure à la maximale (1000)",
    ),
    (
        "misspelt field",
        lambda a: a.update(eligibilty={}),
        "champ(s) inconnu(s) eligibilty",
    ),
    ("missing field", lambda a: a.pop("capacity"), "champ « capacity » : champ obligatoire absent"),
    ("blank name", lambda a: a.update(name="  "), "champ « name » : un nom non vide"),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [pytest.param(change, message, id=label) for label, change, message in BAD_ACTORS],
)
def test_a_bad_actor_is_refused_naming_the_actor_and_the_field(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(CatalogueError) as raised:
        actors_from_document(actor_change(change))
    text = str(raised.value)
    assert text.startswith("Catalogue 49, acteur « caue49 »")
    assert message in text


def test_a_bad_identifier_is_refused_with_the_actor_position() -> None:
    document = actor_change(lambda a: a.update(id="CAUE 49"))
    with pytest.raises(CatalogueError, match=r"acteur n° 1, champ « id » : identifiant invalide"):
        actors_from_document(document)


def test_two_actors_with_one_identifier_are_refused() -> None:
    document = valid_document()
    document["actors"].append(copy.deepcopy(document["actors"][0]))
    with pytest.raises(CatalogueError, match="« caue49 » : identifiant déjà utilisé"):
        actors_from_document(document)


def test_the_catalogue_of_another_departement_is_refused() -> None:
    with pytest.raises(
        CatalogueError, match="l'offre du département 49, pas celle du département 35"
    ):
        parse_catalogue(json.dumps(valid_document()), departement="35")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "Catalogue illisible : JSON invalide"),
        (b"\xff\xfe\x00", "Catalogue illisible"),
        (b"[]", "le document doit être un objet JSON"),
        (b'{"departement": "99", "actors": []}', "code de département inconnu '99'"),
        (b'{"departement": "49", "actors": {}}', "une liste d'acteurs est attendue"),
        (b'{"departement": "49", "actors": [], "version": 2}', "champ(s) inconnu(s) version"),
    ],
)
def test_an_unreadable_document_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(CatalogueError) as raised:
        parse_catalogue(raw)
    assert message in str(raised.value)


def test_optional_fields_take_their_defaults() -> None:
    document = actor_change(lambda a: a.pop("eligibility"))
    (actor,) = actors_from_document(document)
    assert actor.active
    assert not actor.eligibility.members_only
    assert actor.eligibility.requester_kinds == frozenset(RequesterKind)
    assert actor.eligibility.min_population is None
