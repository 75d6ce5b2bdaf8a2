"""Invoice lines of the cotisation and of the missions, from a département's tariff.

Every line must be explainable to an élu reading the invoice: one line per
population band charged, then one line per adjustment (solidarity coefficient,
floor, ceiling), so that the lines add up to what is due and each says why.

Each line is rounded and taxed by :meth:`Line.priced` (see ``invoice`` for the money
rules). Labels write numbers the French way (``shared.french``), every decimal of a
rate kept, so a label never hides part of a price.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal, Protocol

from services.billing.domain.invoice import Line, VatRule, round_cents
from services.billing.domain.tariff import SolidarityBand, Tariff
from shared.french import number, rate_euros

MemberKind = Literal["commune", "epci"]

_ZERO = Decimal("0.00")
_ONE = Decimal(1)

UNIT_INHABITANT = "habitant"
UNIT_DAY = "jour"
UNIT_FLAT = "forfait"
UNIT_ADJUSTMENT = "ajustement"

ACTOR_LABELS = {
    "departement": "Département",
    "atd": "ATD",
    "caue": "CAUE",
    "spl": "SPL",
    "ddt": "DDT",
    "syndicat_energie": "syndicat d'énergie",
    "cnfpt": "CNFPT",
    "association_maires": "association des maires",
    "comite_expansion": "comité d'expansion",
    "agence_urbanisme": "agence d'urbanisme",
    "epf": "EPF",
    "autre": "autre acteur",
}


class _Band(Protocol):
    @property
    def up_to(self) -> int | None: ...


class PricingError(ValueError):
    """The tariff cannot price this case; the message (French) says why."""


# --- cotisation ----------------------------------------------------------------------------------


def cotisation_lines(tariff: Tariff, kind: MemberKind, population: int, year: int) -> list[Line]:
    """The lines of a member's cotisation of ``year``; their sum is what the member owes.

    Population 0 stands for "unknown" in the reference data: it is charged nothing per
    inhabitant but still the floor, if the tariff has one.
    """
    if isinstance(population, bool) or not isinstance(population, int) or population < 0:
        raise PricingError(f"Population {population!r} invalide : un entier positif est attendu.")
    if year != tariff.year:
        raise PricingError(
            f"Le tarif {tariff.year} du département {tariff.departement} ne peut pas servir "
            f"à calculer une cotisation {year}."
        )
    rule = tariff.vat["cotisation"]
    if kind == "commune":
        lines = _commune_base(tariff, population, year, rule)
        lines.extend(_solidarity(lines, tariff.solidarity, population, rule))
        floor, ceiling = tariff.commune_floor, tariff.commune_ceiling
    elif kind == "epci":
        if tariff.epci_rate is None:
            raise PricingError(
                f"Le tarif {tariff.year} du département {tariff.departement} ne prévoit pas "
                "d'adhésion des EPCI."
            )
        label = (
            f"Cotisation {year} de l'EPCI — {_inhabitants(population)} × "
            f"{rate_euros(tariff.epci_rate)}"
        )
        lines = [
            Line.priced(
                "cotisation",
                label,
                Decimal(population),
                UNIT_INHABITANT,
                tariff.epci_rate,
                population * tariff.epci_rate,
                rule,
            )
        ]
        floor, ceiling = tariff.epci_floor, tariff.epci_ceiling
    else:
        raise PricingError(f"Type de collectivité inconnu {kind!r} (commune ou epci).")

    subtotal = _sum(line.amount_excl_tax for line in lines)
    if floor is not None and subtotal < floor:
        lines.append(
            _adjustment(f"Ajustement au plancher de {rate_euros(floor)}", floor - subtotal, rule)
        )
    elif ceiling is not None and subtotal > ceiling:
        lines.append(_adjustment(f"Plafonnement à {rate_euros(ceiling)}", ceiling - subtotal, rule))
    return lines


def _commune_base(tariff: Tariff, population: int, year: int, rule: VatRule) -> list[Line]:
    tiers = tariff.commune_tiers
    single = len(tiers) == 1
    if tariff.tier_mode == "whole":
        index = _index_of(population, tiers)
        if index is None:
            # A closed last tier caps the population counted (see the tariff module).
            index = len(tiers) - 1
            last = tiers[index].up_to
            counted = population if last is None else last
            note = f" (population de {_inhabitants(population)}, comptée jusqu'à {number(counted)})"
        else:
            counted = population
            note = "" if single else f" (tranche {_band_text(tiers, index)})"
        rate = tiers[index].rate
        label = f"Cotisation {year} — {_inhabitants(counted)} × {rate_euros(rate)}{note}"
        return [
            Line.priced(
                "cotisation",
                label,
                Decimal(counted),
                UNIT_INHABITANT,
                rate,
                counted * rate,
                rule,
            )
        ]

    lines: list[Line] = []
    lower = 0
    for index, tier in enumerate(tiers):
        upper = population if tier.up_to is None else min(population, tier.up_to)
        count = upper - lower
        band = "" if single else f", tranche {_band_text(tiers, index)}"
        label = f"Cotisation {year}{band} — {_inhabitants(count)} × {rate_euros(tier.rate)}"
        lines.append(
            Line.priced(
                "cotisation",
                label,
                Decimal(count),
                UNIT_INHABITANT,
                tier.rate,
                count * tier.rate,
                rule,
            )
        )
        if tier.up_to is None or population <= tier.up_to:
            break
        lower = tier.up_to
    return lines


def _solidarity(
    lines: Sequence[Line], bands: Sequence[SolidarityBand], population: int, rule: VatRule
) -> list[Line]:
    index = _index_of(population, bands)
    if index is None:
        return []
    coefficient = bands[index].coefficient
    subtotal = _sum(line.amount_excl_tax for line in lines)
    # The élu checks "subtotal × coefficient"; rounding that product, rather than the
    # difference, keeps the result the one they get on paper.
    adjusted = round_cents(subtotal * coefficient)
    if adjusted == subtotal:
        return []
    everyone = len(bands) == 1 and bands[0].up_to is None
    scope = "" if everyone else f" (communes {_band_text(bands, index)})"
    label = f"Coefficient de solidarité × {number(coefficient, 2)}{scope}"
    return [_adjustment(label, adjusted - subtotal, rule)]


def _index_of(population: int, bands: Sequence[_Band]) -> int | None:
    for index, band in enumerate(bands):
        if band.up_to is None or population <= band.up_to:
            return index
    return None


def _band_text(bands: Sequence[_Band], index: int) -> str:
    upper = bands[index].up_to
    lower = 0 if index == 0 else (bands[index - 1].up_to or 0)
    if upper is None:
        return f"au-delà de {_inhabitants(lower)}"
    if index == 0:
        return f"jusqu'à {_inhabitants(upper)}"
    return f"de {number(lower + 1)} à {_inhabitants(upper)}"


# --- missions ------------------------------------------------------------------------------------


def mission_lines(
    tariff: Tariff,
    actor_kind: str,
    days_spent: Decimal,
    is_member: bool,
    description: str,
) -> list[Line]:
    """The line of a completed mission, at the member or non-member rate of its actor kind.

    Actor kinds without a fee of their own take the tariff's default fee. A flat fee
    ignores the days spent.
    """
    if not isinstance(days_spent, Decimal) or not days_spent.is_finite() or days_spent < 0:
        raise PricingError(
            f"Nombre de jours {days_spent!r} invalide : un nombre décimal positif est attendu."
        )
    fee = tariff.mission_fee(actor_kind)
    price = fee.member if is_member else fee.non_member
    rate_name = "tarif adhérent" if is_member else "tarif non adhérent"
    title = " ".join(description.split()) or "Mission"
    who = actor_label(actor_kind)
    rule = tariff.vat["mission"]
    if fee.unit == "percent":
        raise PricingError("Une mission au pourcentage des travaux se facture par sa convention.")
    if fee.unit == "day":
        label = f"{title} ({who}) — {_days(days_spent)} × {rate_euros(price)} ({rate_name})"
        return [
            Line.priced("mission", label, days_spent, UNIT_DAY, price, days_spent * price, rule)
        ]
    label = f"{title} ({who}) — forfait de {rate_euros(price)} ({rate_name})"
    return [Line.priced("mission", label, _ONE, UNIT_FLAT, price, price, rule)]


def actor_label(actor_kind: str) -> str:
    """How an invoice names an actor kind ("caue" → "CAUE")."""
    return ACTOR_LABELS.get(actor_kind, actor_kind.replace("_", " "))


# --- lines ---------------------------------------------------------------------------------------


def _adjustment(label: str, amount: Decimal, rule: VatRule) -> Line:
    return Line.priced("cotisation", label, _ONE, UNIT_ADJUSTMENT, amount, amount, rule)


def _inhabitants(count: int) -> str:
    # French keeps the singular below two: "0 habitant", "1 habitant", "2 habitants".
    return f"{number(count)} habitant{'s' if count >= 2 else ''}"


def _days(days: Decimal) -> str:
    return f"{number(days)} jour{'s' if days >= 2 else ''}"


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, _ZERO)
