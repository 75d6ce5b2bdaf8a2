"""Reading a tariff's JSON document, checked field by field.

Every error names the field, in French: the tariff is written by a département's
team, who must be able to fix it from the message alone. Decimal values are
JSON strings or integers; JSON floats are refused because ``0.1`` has no exact
binary value and a tariff is money.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import TypeGuard

from services.billing.domain.invoice import VatRule
from services.billing.domain.tariff import (
    DEFAULT_MISSION_FEE,
    DEPARTEMENT_CODE,
    MAX_YEAR,
    MIN_YEAR,
    REFERENCE_DEPARTEMENT,
    VAT_KINDS,
    MissionFee,
    SolidarityBand,
    Tariff,
    TariffError,
    Tier,
    TierMode,
)

_ACTOR_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")
# An optional sign is accepted by the pattern so that "-5" gets "négatif" rather than
# "illisible"; exponents, spaces, "NaN" and "Infinity" are refused.
_DECIMAL = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,12})?")

# Cents for amounts; rates per inhabitant, coefficients and VAT rates need a few more
# places (0.335 € per inhabitant, a 5.5 % VAT rate is 0.055).
_MONEY_PLACES = 2
_RATE_PLACES = 4

_DOCUMENT_KEYS = frozenset(
    {"departement", "year", "version", "label", "commune", "epci", "mission_fees", "vat"}
)
_COMMUNE_KEYS = frozenset({"tier_mode", "tiers", "floor", "ceiling", "solidarity"})
_EPCI_KEYS = frozenset({"rate", "floor", "ceiling"})
_TIER_KEYS = frozenset({"up_to", "rate"})
_BAND_KEYS = frozenset({"up_to", "coefficient"})
_FEE_KEYS = frozenset({"unit", "member", "non_member", "members_included"})
_VAT_KEYS = frozenset({"rate", "mention"})

# --- reading -------------------------------------------------------------------------------------


def parse_tariff(document: object, *, departement: str | None = None) -> Tariff:
    """The tariff of an already decoded JSON document.

    With ``departement``, the document must be that département's tariff (an upload for
    the 49 cannot carry the 35's, nor the national reference).
    """
    if not isinstance(document, dict):
        raise TariffError("Tarif invalide : le document doit être un objet JSON.")
    _refuse_unknown(document, _DOCUMENT_KEYS, "Tarif invalide")
    for key in ("departement", "year", "version", "label", "commune", "mission_fees", "vat"):
        if key not in document:
            raise TariffError(f"Tarif invalide, champ « {key} » : champ obligatoire absent.")

    code = document["departement"]
    if not isinstance(code, str) or not (
        DEPARTEMENT_CODE.fullmatch(code) or code == REFERENCE_DEPARTEMENT
    ):
        raise TariffError(
            f"Tarif invalide, champ « departement » : code de département inconnu {code!r} "
            "(01 à 95, 2A, 2B, 971 à 976, ou 00 pour le tarif national de référence)."
        )
    if departement is not None and code != departement:
        raise TariffError(
            f"Tarif invalide : il est celui du département {code}, "
            f"pas celui du département {departement}."
        )
    year = document["year"]
    if not _is_int(year) or not MIN_YEAR <= year <= MAX_YEAR:
        raise TariffError(
            f"Tarif {code} invalide, champ « year » : année {year!r} hors de "
            f"{MIN_YEAR} à {MAX_YEAR}."
        )
    where = f"Tarif {code}-{year} invalide"
    version = document["version"]
    if not _is_int(version) or version < 1:
        raise TariffError(
            f"{where}, champ « version » : un entier d'au moins 1 est attendu, pas {version!r}."
        )
    label = document["label"]
    if not isinstance(label, str) or not label.strip():
        raise TariffError(f"{where}, champ « label » : un libellé non vide est attendu.")

    tiers, mode, floor, ceiling, solidarity = _commune(document["commune"], where)
    epci_rate, epci_floor, epci_ceiling = _epci(document.get("epci"), where)
    return Tariff(
        departement=code,
        year=year,
        version=version,
        label=label.strip(),
        commune_tiers=tiers,
        tier_mode=mode,
        commune_floor=floor,
        commune_ceiling=ceiling,
        epci_rate=epci_rate,
        epci_floor=epci_floor,
        epci_ceiling=epci_ceiling,
        solidarity=solidarity,
        mission_fees=_mission_fees(document["mission_fees"], where),
        vat=_vat(document["vat"], where),
    )


def parse_tariff_json(raw: str | bytes, *, departement: str | None = None) -> Tariff:
    """The tariff given as JSON text."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TariffError(f"Tarif illisible : JSON invalide ({error}).") from error
    return parse_tariff(document, departement=departement)


# --- parts of the document -----------------------------------------------------------------------


def _commune(
    value: object, where: str
) -> tuple[tuple[Tier, ...], TierMode, Decimal | None, Decimal | None, tuple[SolidarityBand, ...]]:
    value = _object(value, _COMMUNE_KEYS, "commune", where)
    mode = value.get("tier_mode")
    if mode not in ("whole", "slice"):
        raise TariffError(
            f"{where}, champ « commune.tier_mode » : mode {mode!r} inconnu "
            "(« whole » : le taux de la tranche s'applique à toute la population ; "
            "« slice » : chaque tranche de population est facturée à son taux)."
        )
    raw_tiers = _bands(value.get("tiers"), "commune.tiers", "tranche", _TIER_KEYS, where)
    tiers = tuple(
        Tier(up_to, _decimal(entry, "rate", f"commune.tiers[{i}].rate", where, _RATE_PLACES))
        for i, (up_to, entry) in enumerate(raw_tiers, start=1)
    )
    floor, ceiling = _bounds(value, "commune", where)

    raw_bands = _bands(
        value.get("solidarity", []),
        "commune.solidarity",
        "bande",
        _BAND_KEYS,
        where,
        allow_empty=True,
    )
    solidarity: list[SolidarityBand] = []
    for i, (up_to, entry) in enumerate(raw_bands, start=1):
        field = f"commune.solidarity[{i}].coefficient"
        coefficient = _decimal(entry, "coefficient", field, where, _RATE_PLACES)
        if coefficient <= 0:
            raise TariffError(
                f"{where}, champ « {field} » : le coefficient doit être strictement positif "
                f"(1 pour ne rien changer), pas {coefficient}."
            )
        solidarity.append(SolidarityBand(up_to, coefficient))
    return tiers, mode, floor, ceiling, tuple(solidarity)


def _epci(value: object, where: str) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    if value is None:
        return None, None, None
    if not isinstance(value, dict):
        raise TariffError(
            f"{where}, champ « epci » : un objet JSON est attendu, "
            "ou null si les EPCI ne peuvent pas adhérer."
        )
    _refuse_unknown(value, _EPCI_KEYS, f"{where}, champ « epci »")
    if "rate" not in value:
        raise TariffError(f"{where}, champ « epci.rate » : champ obligatoire absent.")
    rate = _decimal(value, "rate", "epci.rate", where, _RATE_PLACES)
    floor, ceiling = _bounds(value, "epci", where)
    return rate, floor, ceiling


def _bands(
    value: object,
    field: str,
    noun: str,
    keys: frozenset[str],
    where: str,
    *,
    allow_empty: bool = False,
) -> list[tuple[int | None, Mapping[str, object]]]:
    """Population bands in ascending order, only the last open; their raw entries."""
    if not isinstance(value, list) or (not value and not allow_empty):
        wanted = "une liste" if allow_empty else "une liste non vide"
        raise TariffError(f"{where}, champ « {field} » : {wanted} de {noun}s est attendue.")
    bands: list[tuple[int | None, Mapping[str, object]]] = []
    previous: int | None = None
    for i, raw in enumerate(value, start=1):
        at = f"{field}[{i}]"
        entry = _object(raw, keys, at, where)
        if bands and bands[-1][0] is None:
            raise TariffError(
                f"{where}, champ « {field}[{i - 1}].up_to » : seule la dernière {noun} "
                "peut être ouverte (up_to null)."
            )
        if "up_to" not in entry:
            raise TariffError(
                f"{where}, champ « {at}.up_to » : champ obligatoire absent "
                "(nombre d'habitants, ou null pour la dernière)."
            )
        up_to = entry["up_to"]
        if up_to is not None:
            if not _is_int(up_to) or up_to < 1:
                raise TariffError(
                    f"{where}, champ « {at}.up_to » : un nombre d'habitants d'au moins 1 "
                    f"ou null est attendu, pas {up_to!r}."
                )
            if previous is not None and up_to <= previous:
                raise TariffError(
                    f"{where}, champ « {at}.up_to » : les {noun}s doivent être rangées par "
                    f"population croissante ({up_to} vient après {previous})."
                )
            previous = up_to
        bands.append((up_to, entry))
    return bands


def _bounds(
    value: Mapping[str, object], prefix: str, where: str
) -> tuple[Decimal | None, Decimal | None]:
    floor = _optional_money(value, "floor", f"{prefix}.floor", where)
    ceiling = _optional_money(value, "ceiling", f"{prefix}.ceiling", where)
    if floor is not None and ceiling is not None and floor > ceiling:
        raise TariffError(
            f"{where}, champs « {prefix}.floor » et « {prefix}.ceiling » : le plancher "
            f"({floor}) dépasse le plafond ({ceiling})."
        )
    return floor, ceiling


def _optional_money(
    value: Mapping[str, object], key: str, field: str, where: str
) -> Decimal | None:
    if value.get(key) is None:
        return None
    return _decimal(value, key, field, where, _MONEY_PLACES)


def _mission_fees(value: object, where: str) -> Mapping[str, MissionFee]:
    if not isinstance(value, dict):
        raise TariffError(
            f"{where}, champ « mission_fees » : un objet JSON est attendu, "
            'sous la forme {"type d\'acteur": {"unit": ..., "member": ..., "non_member": ...}}.'
        )
    if DEFAULT_MISSION_FEE not in value:
        raise TariffError(
            f"{where}, champ « mission_fees.default » : champ obligatoire absent "
            "(le tarif des missions des acteurs sans tarif propre)."
        )
    fees: dict[str, MissionFee] = {}
    for kind, raw in value.items():
        field = f"mission_fees.{kind}"
        if not isinstance(kind, str) or not _ACTOR_KIND.fullmatch(kind):
            raise TariffError(
                f"{where}, champ « {field} » : type d'acteur {kind!r} invalide "
                "(minuscules, chiffres et « _ », par exemple « caue » ou « syndicat_energie »)."
            )
        entry = _object(raw, _FEE_KEYS, field, where)
        unit = entry.get("unit")
        if unit not in ("day", "flat", "percent"):
            raise TariffError(
                f"{where}, champ « {field}.unit » : unité {unit!r} inconnue "
                "(« day » : prix par jour passé ; « flat » : forfait ; "
                "« percent » : part du montant des travaux, 0.05 pour 5 %)."
            )
        member = _decimal(entry, "member", f"{field}.member", where, _MONEY_PLACES)
        non_member = _decimal(entry, "non_member", f"{field}.non_member", where, _MONEY_PLACES)
        # Membership buys reduced rates; a member price above the other is a swap.
        if member > non_member:
            raise TariffError(
                f"{where}, champ « {field} » : le tarif adhérent ({member}) dépasse "
                f"le tarif non adhérent ({non_member})."
            )
        if unit == "percent" and non_member > 1:
            raise TariffError(
                f"{where}, champ « {field}.non_member » : une part des travaux s'écrit "
                "entre 0 et 1 (0.05 pour 5 %)."
            )
        included = entry.get("members_included", False)
        if not isinstance(included, bool):
            raise TariffError(
                f"{where}, champ « {field}.members_included » : true ou false est attendu."
            )
        fees[kind] = MissionFee(unit, member, non_member, included)
    return MappingProxyType(fees)


def _vat(value: object, where: str) -> Mapping[str, VatRule]:
    if not isinstance(value, dict):
        raise TariffError(
            f"{where}, champ « vat » : un objet JSON est attendu, "
            "avec les règles « cotisation » et « mission »."
        )
    _refuse_unknown(value, frozenset(VAT_KINDS), f"{where}, champ « vat »")
    rules: dict[str, VatRule] = {}
    for kind in VAT_KINDS:
        field = f"vat.{kind}"
        entry = value.get(kind)
        if not isinstance(entry, dict):
            raise TariffError(
                f"{where}, champ « {field} » : un objet JSON est attendu "
                '(par exemple {"rate": "0", "mention": "TVA non applicable, article 256 B '
                'du CGI"}).'
            )
        _refuse_unknown(entry, _VAT_KEYS, f"{where}, champ « {field} »")
        rate = _decimal(entry, "rate", f"{field}.rate", where, _RATE_PLACES)
        if rate >= 1:
            raise TariffError(
                f"{where}, champ « {field}.rate » : taux {rate} invalide ; il s'écrit en "
                "fraction (« 0.20 » pour 20 %)."
            )
        mention = entry.get("mention")
        if mention is not None and (not isinstance(mention, str) or not mention.strip()):
            raise TariffError(
                f"{where}, champ « {field}.mention » : un texte non vide ou null est attendu."
            )
        # An invoice without VAT must say why (CGI, annexe II, art. 242 nonies A).
        if rate == 0 and mention is None:
            raise TariffError(
                f"{where}, champ « {field}.mention » : sans TVA, la facture doit porter "
                "la mention légale qui l'explique (par exemple « TVA non applicable, "
                "article 256 B du CGI »)."
            )
        rules[kind] = VatRule(rate, None if mention is None else mention.strip())
    return MappingProxyType(rules)


def _decimal(entry: Mapping[str, object], key: str, field: str, where: str, places: int) -> Decimal:
    if key not in entry:
        raise TariffError(f"{where}, champ « {field} » : champ obligatoire absent.")
    value = entry[key]
    if isinstance(value, float):
        raise TariffError(
            f"{where}, champ « {field} » : le nombre à virgule {value!r} est refusé pour "
            f'rester exact ; écrivez-le entre guillemets (« "{value}" »).'
        )
    if _is_int(value) or (isinstance(value, str) and _DECIMAL.fullmatch(value)):
        number = Decimal(value)
    else:
        raise TariffError(
            f"{where}, champ « {field} » : nombre {value!r} illisible ; un nombre décimal "
            'écrit avec un point et entre guillemets est attendu (par exemple « "0.70" »).'
        )
    if number.is_signed():
        raise TariffError(f"{where}, champ « {field} » : valeur négative {value!r} refusée.")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise TariffError(
            f"{where}, champ « {field} » : {value!r} a trop de décimales ({places} au plus)."
        )
    return number


def _object(value: object, keys: frozenset[str], field: str, where: str) -> dict[str, object]:
    """``value`` as a JSON object with only the ``keys`` allowed."""
    if not isinstance(value, dict):
        raise TariffError(f"{where}, champ « {field} » : un objet JSON est attendu.")
    _refuse_unknown(value, keys, f"{where}, champ « {field} »")
    return value


def _refuse_unknown(value: Mapping[str, object], allowed: frozenset[str], where: str) -> None:
    # A misspelt optional field ("ceilling") would otherwise be silently ignored.
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise TariffError(
            f"{where} : champ(s) inconnu(s) {', '.join(unknown)} "
            f"(champs admis : {', '.join(sorted(allowed))})."
        )


def _is_int(value: object) -> TypeGuard[int]:
    # JSON true/false decode to bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)
