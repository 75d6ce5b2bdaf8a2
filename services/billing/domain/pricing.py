"""Invoice lines of the cotisation and of the missions, from a département's tariff.

Every line must be explainable to an élu reading the invoice: one line per
population band charged, then one line per adjustment (solidarity coefficient,
floor, ceiling), so that the lines add up to what is due and each says why.

Money rules, which French public accounting checks line by line:
- amounts are ``Decimal``, rounded half-up to the cent on each line, and totals
  are sums of the rounded lines, never a rounding of the unrounded sum;
- VAT is computed per line from the rounded amount excluding tax, rounded
  half-up too, and the amount including tax is their sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

from services.billing.domain.tariff import (
    SolidarityBand,
    Tariff,
    VatRule,
)

LineKind = Literal["cotisation", "mission"]
MemberKind = Literal["commune", "epci"]

CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_ONE = Decimal(1)

# French typography: a narrow no-break space between groups of digits (CLDR "fr") and a
# no-break space before the unit, so that a printed label never breaks inside an amount.
THOUSANDS_SEPARATOR = "\u202f"
UNIT_SEPARATOR = "\u00a0"

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


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line; amounts are rounded to the cent, ``unit_price`` is the tariff's own.

    ``quantity × unit_price`` rounded gives ``amount_excl_tax`` on priced lines; on
    adjustment lines (solidarity, floor, ceiling) the quantity is 1 and the unit price is
    the adjustment itself.
    """

    kind: LineKind
    label: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount_excl_tax: Decimal
    vat_rate: Decimal
    vat_amount: Decimal
    amount_incl_tax: Decimal
    vat_mention: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    excl_tax: Decimal
    vat: Decimal
    incl_tax: Decimal


def round_cents(amount: Decimal) -> Decimal:
    """``amount`` rounded half-up to the cent (half away from zero for negative amounts)."""
    # Adding +0.00 turns the -0.00 of a tiny or zero-rated negative amount into 0.00.
    return amount.quantize(CENT, rounding=ROUND_HALF_UP) + _ZERO


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
            f"{format_euros(tariff.epci_rate)}"
        )
        lines = [
            _line(
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
            _adjustment(f"Ajustement au plancher de {format_euros(floor)}", floor - subtotal, rule)
        )
    elif ceiling is not None and subtotal > ceiling:
        lines.append(
            _adjustment(f"Plafonnement à {format_euros(ceiling)}", ceiling - subtotal, rule)
        )
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
            note = (
                f" (population de {_inhabitants(population)}, "
                f"comptée jusqu'à {format_number(counted)})"
            )
        else:
            counted = population
            note = "" if single else f" (tranche {_band_text(tiers, index)})"
        rate = tiers[index].rate
        label = f"Cotisation {year} — {_inhabitants(counted)} × {format_euros(rate)}{note}"
        return [
            _line(
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
        label = f"Cotisation {year}{band} — {_inhabitants(count)} × {format_euros(tier.rate)}"
        lines.append(
            _line(
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
    label = f"Coefficient de solidarité × {format_number(coefficient, 2)}{scope}"
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
    return f"de {format_number(lower + 1)} à {_inhabitants(upper)}"


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
    if fee.unit == "day":
        label = f"{title} ({who}) — {_days(days_spent)} × {format_euros(price)} ({rate_name})"
        return [_line("mission", label, days_spent, UNIT_DAY, price, days_spent * price, rule)]
    label = f"{title} ({who}) — forfait de {format_euros(price)} ({rate_name})"
    return [_line("mission", label, _ONE, UNIT_FLAT, price, price, rule)]


def actor_label(actor_kind: str) -> str:
    """How an invoice names an actor kind ("caue" → "CAUE")."""
    return ACTOR_LABELS.get(actor_kind, actor_kind.replace("_", " "))


# --- totals and credit notes ---------------------------------------------------------------------


def totals(lines: Iterable[Line]) -> Totals:
    """Sums of the rounded lines."""
    excl, vat, incl = _ZERO, _ZERO, _ZERO
    for line in lines:
        excl += line.amount_excl_tax
        vat += line.vat_amount
        incl += line.amount_incl_tax
    return Totals(excl_tax=excl, vat=vat, incl_tax=incl)


def credit_lines(lines: Iterable[Line]) -> list[Line]:
    """The lines of a credit note cancelling ``lines``: same prices, opposite quantities.

    Negating already rounded amounts, rather than pricing again, makes the credit note
    cancel the invoice to the cent whatever the tariff has become since.
    """
    return [
        Line(
            kind=line.kind,
            label=f"Annulation : {line.label}",
            quantity=_negate(line.quantity),
            unit=line.unit,
            unit_price=line.unit_price,
            amount_excl_tax=_negate(line.amount_excl_tax),
            vat_rate=line.vat_rate,
            vat_amount=_negate(line.vat_amount),
            amount_incl_tax=_negate(line.amount_incl_tax),
            vat_mention=line.vat_mention,
        )
        for line in lines
    ]


# --- French number formatting --------------------------------------------------------------------


def format_number(value: int | Decimal, min_places: int = 0) -> str:
    """``value`` the French way: "1 234", "0,335", "3,5"; at least ``min_places`` decimals.

    No rounding: every significant decimal is shown, so a label never hides part of a rate.
    """
    number = Decimal(value)
    exponent = number.normalize().as_tuple().exponent
    significant = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    places = max(min_places, significant)
    whole, _, fraction = f"{abs(number):.{places}f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.append(whole[-3:])
        whole = whole[:-3]
    groups.append(whole)
    text = THOUSANDS_SEPARATOR.join(reversed(groups))
    if fraction:
        text += "," + fraction
    return f"-{text}" if number < 0 else text


def format_euros(amount: Decimal) -> str:
    """``amount`` in euros the French way: "4 200,00 €", "0,335 €"."""
    return f"{format_number(amount, 2)}{UNIT_SEPARATOR}€"


# --- helpers -------------------------------------------------------------------------------------


def _line(
    kind: LineKind,
    label: str,
    quantity: Decimal,
    unit: str,
    unit_price: Decimal,
    amount: Decimal,
    rule: VatRule,
) -> Line:
    excl = round_cents(amount)
    vat = round_cents(excl * rule.rate)
    return Line(
        kind=kind,
        label=label,
        quantity=quantity,
        unit=unit,
        unit_price=unit_price,
        amount_excl_tax=excl,
        vat_rate=rule.rate,
        vat_amount=vat,
        amount_incl_tax=excl + vat,
        vat_mention=rule.mention,
    )


def _adjustment(label: str, amount: Decimal, rule: VatRule) -> Line:
    return _line("cotisation", label, _ONE, UNIT_ADJUSTMENT, amount, amount, rule)


def _inhabitants(count: int) -> str:
    # French keeps the singular below two: "0 habitant", "1 habitant", "2 habitants".
    return f"{format_number(count)} habitant{'s' if count >= 2 else ''}"


def _days(days: Decimal) -> str:
    return f"{format_number(days)} jour{'s' if days >= 2 else ''}"


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, _ZERO)


def _negate(value: Decimal) -> Decimal:
    # 0 - x rather than -x: -Decimal("0.00") is "-0.00", which no invoice should print.
    return Decimal(0) - value
