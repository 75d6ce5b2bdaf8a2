"""Tariff documents: the shipped ones parse, bad ones are refused in French, and a tariff
survives the trip to JSON and back."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from services.billing.domain.invoice import VatRule
from services.billing.domain.shipped_tariffs import (
    load_shipped,
    reference_tariff,
    shipped,
    tariff_for,
)
from services.billing.domain.tariff import (
    REFERENCE_DEPARTEMENT,
    MissionFee,
    SolidarityBand,
    Tariff,
    TariffError,
    Tier,
    tariff_to_dict,
)
from services.billing.domain.tariff_parsing import parse_tariff, parse_tariff_json

MENTION = "TVA non applicable, article 256 B du CGI"


def shipped_49() -> Tariff:
    tariff = load_shipped("49", 2027)
    assert tariff is not None
    return tariff


def document_49() -> dict[str, Any]:
    return copy.deepcopy(tariff_to_dict(shipped_49()))


# --- shipped tariffs -----------------------------------------------------------------------------


def test_the_shipped_tariffs_parse() -> None:
    assert [(t.departement, t.year) for t in shipped()] == [
        ("24", 2027),
        ("49", 2027),
        ("78", 2027),
    ]
    for tariff in shipped():
        assert "default" in tariff.mission_fees
        assert set(tariff.vat) == {"cotisation", "mission"}
        assert tariff.vat["cotisation"] == VatRule(Decimal(0), MENTION)


def test_every_json_file_shipped_is_a_valid_tariff() -> None:
    folder = resources.files("services.billing.tariffs")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".json"))
    assert names == ["24-2027.json", "49-2027.json", "78-2027.json", "reference.json"]
    for name in names:
        tariff = parse_tariff_json(folder.joinpath(name).read_bytes())
        assert tariff.year == 2027


def test_the_yvelines_tariff_is_ingeniery() -> None:
    tariff = load_shipped("78", 2027)
    assert tariff is not None
    assert tariff.tier_mode == "whole"
    assert tariff.commune_tiers == (Tier(None, Decimal("0.70")),)
    assert tariff.commune_ceiling == Decimal("4200.00")
    assert tariff.commune_floor is None
    assert tariff.epci_rate == Decimal("0.10")
    assert tariff.solidarity == ()


def test_the_maine_et_loire_tariff_has_slices_a_floor_a_ceiling_and_solidarity() -> None:
    tariff = shipped_49()
    assert tariff.tier_mode == "slice"
    assert tariff.commune_tiers == (
        Tier(500, Decimal("1.00")),
        Tier(2000, Decimal("0.80")),
        Tier(10000, Decimal("0.50")),
        Tier(None, Decimal("0.30")),
    )
    assert (tariff.commune_floor, tariff.commune_ceiling) == (Decimal(150), Decimal(12000))
    assert (tariff.epci_rate, tariff.epci_floor, tariff.epci_ceiling) == (
        Decimal("0.15"),
        Decimal(1000),
        Decimal(25000),
    )
    assert tariff.solidarity == (SolidarityBand(999, Decimal("0.80")),)
    assert tariff.mission_fee("cnfpt") == MissionFee("flat", Decimal(250), Decimal(400))
    assert tariff.mission_fee("epf") == tariff.mission_fees["default"]


def test_a_missing_year_or_departement_is_none() -> None:
    assert load_shipped("49", 2026) is None
    assert load_shipped("35", 2027) is None


def test_the_reference_tariff_is_relabelled_for_the_departement() -> None:
    tariff = reference_tariff("12", 2028)
    assert (tariff.departement, tariff.year) == ("12", 2028)
    assert "12" in tariff.label
    assert "2028" in tariff.label
    assert tariff.commune_tiers
    assert tariff_for("12", 2028) == tariff
    assert tariff_for("49", 2027) == shipped_49()
    with pytest.raises(TariffError, match="Code de département inconnu"):
        reference_tariff(REFERENCE_DEPARTEMENT, 2027)
    with pytest.raises(TariffError, match="Année 1999"):
        reference_tariff("12", 1999)


def test_the_tariffs_are_read_only() -> None:
    tariff = shipped_49()
    with pytest.raises(TypeError):
        tariff.mission_fees["caue"] = MissionFee("day", Decimal(0), Decimal(0))  # type: ignore[index]


# --- round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tariff",
    [*shipped(), reference_tariff("12", 2028)],
    ids=lambda t: f"{t.departement}-{t.year}",
)
def test_a_tariff_survives_the_trip_to_json_and_back(tariff: Tariff) -> None:
    document = tariff_to_dict(tariff)
    assert parse_tariff(document) == tariff
    text = json.dumps(document, ensure_ascii=False)
    again = parse_tariff_json(text)
    assert again == tariff
    assert tariff_to_dict(again) == document


def test_integers_are_accepted_for_decimals() -> None:
    document = document_49()
    document["commune"]["floor"] = 150
    document["mission_fees"]["default"]["member"] = 350
    tariff = parse_tariff(document)
    assert tariff.commune_floor == Decimal("150.00")
    assert tariff.mission_fees["default"].member == Decimal(350)


def test_an_upload_must_be_the_expected_departement() -> None:
    with pytest.raises(TariffError) as caught:
        parse_tariff(document_49(), departement="35")
    assert str(caught.value) == (
        "Tarif invalide : il est celui du département 49, pas celui du département 35."
    )


# --- refusals ------------------------------------------------------------------------------------


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def apply(document: dict[str, Any]) -> None:
        target: Any = document
        for key in keys[:-1]:
            target = target[int(key) if key.isdigit() else key]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value

    return apply


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def apply(document: dict[str, Any]) -> None:
        target: Any = document
        for key in parents:
            target = target[key]
        del target[last]

    return apply


BAD_DOCUMENTS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "no département",
        _drop("departement"),
        "Tarif invalide, champ « departement » : champ obligatoire absent.",
    ),
    ("unknown département", _set("departement", "99"), "code de département inconnu '99'"),
    ("département as a number", _set("departement", 49), "code de département inconnu 49"),
    ("year too early", _set("year", 1999), "Tarif 49 invalide, champ « year » : année 1999"),
    ("year as text", _set("year", "2027"), "champ « year » : année '2027' hors de 2000 à 2100"),
    ("version 0", _set("version", 0), "champ « version » : un entier d'au moins 1"),
    ("empty label", _set("label", "  "), "champ « label » : un libellé non vide"),
    ("misspelt field", _set("ceilling", "1"), "champ(s) inconnu(s) ceilling"),
    ("misspelt commune field", _set("commune.ceilling", "1"), "champ « commune » : champ(s)"),
    ("unknown mode", _set("commune.tier_mode", "progressive"), "mode 'progressive' inconnu"),
    ("no tier", _set("commune.tiers", []), "une liste non vide de tranches est attendue"),
    (
        "tiers out of order",
        _set("commune.tiers", [{"up_to": 2000, "rate": "1"}, {"up_to": 500, "rate": "1"}]),
        "champ « commune.tiers[2].up_to » : les tranches doivent être rangées par "
        "population croissante (500 vient après 2000)",
    ),
    (
        "open tier before the last",
        _set("commune.tiers", [{"up_to": None, "rate": "1"}, {"up_to": 500, "rate": "1"}]),
        "champ « commune.tiers[1].up_to » : seule la dernière tranche peut être ouverte",
    ),
    ("tier bound 0", _set("commune.tiers.0.up_to", 0), "« commune.tiers[1].up_to » : un nombre"),
    ("tier bound as text", _set("commune.tiers.0.up_to", "500"), "d'au moins 1 ou null"),
    ("tier without bound", _set("commune.tiers.0", {"rate": "1"}), "absent"),
    ("negative rate", _set("commune.tiers.1.rate", "-0.10"), "valeur négative '-0.10' refusée"),
    ("negative zero", _set("commune.tiers.1.rate", "-0"), "valeur négative '-0' refusée"),
    (
        "float rate",
        _set("commune.tiers.1.rate", 0.8),
        "champ « commune.tiers[2].rate » : le nombre à virgule 0.8 est refusé pour rester exact",
    ),
    ("decimal comma", _set("commune.tiers.1.rate", "0,80"), "nombre '0,80' illisible"),
    ("exponent", _set("commune.tiers.1.rate", "8E-1"), "nombre '8E-1' illisible"),
    ("NaN", _set("commune.tiers.1.rate", "NaN"), "nombre 'NaN' illisible"),
    ("boolean rate", _set("commune.tiers.1.rate", True), "nombre True illisible"),
    ("rate too precise", _set("commune.tiers.1.rate", "0.80001"), "trop de décimales (4 au plus)"),
    ("floor in tenths of cents", _set("commune.floor", "150.005"), "trop de décimales (2 au plus)"),
    (
        "floor above ceiling",
        _set("commune.floor", "20000.00"),
        "champs « commune.floor » et « commune.ceiling » : le plancher (20000.00) dépasse "
        "le plafond (12000.00)",
    ),
    (
        "zero coefficient",
        _set("commune.solidarity.0.coefficient", "0"),
        "« commune.solidarity[1].coefficient » : le coefficient doit être strictement positif",
    ),
    (
        "solidarity out of order",
        _set(
            "commune.solidarity",
            [{"up_to": 999, "coefficient": "0.8"}, {"up_to": 500, "coefficient": "0.9"}],
        ),
        "les bandes doivent être rangées par population croissante",
    ),
    ("epci without rate", _drop("epci.rate"), "champ « epci.rate » : champ obligatoire absent"),
    (
        "epci floor above ceiling",
        _set("epci.floor", "30000"),
        "« epci.floor » et « epci.ceiling » : le plancher",
    ),
    ("epci as a list", _set("epci", []), "champ « epci » : un objet JSON est attendu, ou null"),
    (
        "no default fee",
        _drop("mission_fees.default"),
        "champ « mission_fees.default » : champ obligatoire absent",
    ),
    ("unknown fee unit", _set("mission_fees.caue.unit", "hour"), "unité 'hour' inconnue"),
    (
        "member above non-member",
        _set("mission_fees.caue.member", "900.00"),
        "champ « mission_fees.caue » : le tarif adhérent (900.00) dépasse le tarif non adhérent",
    ),
    (
        "actor kind in capitals",
        _set("mission_fees.CAUE", {"unit": "day", "member": "1", "non_member": "1"}),
        "champ « mission_fees.CAUE » : type d'acteur 'CAUE' invalide",
    ),
    ("fee without price", _drop("mission_fees.caue.non_member"), "non_member » : champ oblig"),
    ("no mission VAT", _drop("vat.mission"), "champ « vat.mission » : un objet JSON est attendu"),
    ("unknown VAT kind", _set("vat.frais", {"rate": "0"}), "« vat » : champ(s) inconnu(s) frais"),
    ("VAT in percent", _set("vat.mission.rate", "20"), "il s'écrit en fraction"),
    (
        "no VAT and no mention",
        _set("vat.cotisation.mention", None),
        "champ « vat.cotisation.mention » : sans TVA, la facture doit porter la mention légale",
    ),
    ("empty mention", _set("vat.mission.mention", " "), "un texte non vide ou null"),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [(change, expected) for _, change, expected in BAD_DOCUMENTS],
    ids=[name for name, _, _ in BAD_DOCUMENTS],
)
def test_a_bad_document_is_refused_in_french(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    document = document_49()
    change(document)
    with pytest.raises(TariffError) as caught:
        parse_tariff(document)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("Tarif")


def test_a_vat_rate_without_mention_is_fine_when_vat_is_charged() -> None:
    document = document_49()
    document["vat"]["mission"] = {"rate": "0.20", "mention": None}
    assert parse_tariff(document).vat["mission"] == VatRule(Decimal("0.20"), None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"[]", "Tarif invalide : le document doit être un objet JSON."),
        (b"{", "Tarif illisible : JSON invalide"),
        (b"\xff", "Tarif illisible : JSON invalide"),
    ],
)
def test_unreadable_json_is_refused_in_french(raw: bytes, expected: str) -> None:
    with pytest.raises(TariffError) as caught:
        parse_tariff_json(raw)
    assert str(caught.value).startswith(expected)


def test_an_open_last_tier_is_optional() -> None:
    document = document_49()
    document["commune"]["tiers"] = [{"up_to": 6000, "rate": "0.70"}]
    assert parse_tariff(document).commune_tiers == (Tier(6000, Decimal("0.70")),)


def test_epcis_may_be_excluded() -> None:
    document = document_49()
    document["epci"] = None
    tariff = parse_tariff(document)
    assert (tariff.epci_rate, tariff.epci_floor, tariff.epci_ceiling) == (None, None, None)
    assert tariff_to_dict(tariff)["epci"] is None
