"""The price of a convention from the tariff, and the invoices of its payment schedule.

The convention fixes the price when the collectivité signs it (prix global et
forfaitaire): a per-day tariff is priced on the days the actor estimates, a percentage
on the amount of the works; reporting other days at delivery does not change what is
owed, an avenant does. The invoices follow the schedule: the advance when the
convention is signed, the balance at delivery, computed as the price of the latest
signed version minus what was already invoiced, so that the invoices of a mission add
up to its convention to the cent whatever the rounding of the advance.
"""

from __future__ import annotations

from decimal import Decimal

from services.billing.domain.convention import Convention, Installment, Pricing
from services.billing.domain.invoice import Line, VatRule
from services.billing.domain.pricing import PricingError, actor_label
from services.billing.domain.tariff import Tariff
from shared.french import euros, number, percent, rate_euros

DEFAULT_ESTIMATED_DAYS = Decimal(5)
"""Days a per-day convention is drafted on until the actor states its estimate."""

_ONE = Decimal(1)
_ZERO = Decimal("0.00")


def convention_pricing(
    tariff: Tariff,
    actor_kind: str,
    is_member: bool,
    title: str,
    *,
    estimated_days: Decimal | None = None,
    works_amount: Decimal | None = None,
) -> tuple[Pricing, list[Line]]:
    """The pricing and the lines of a convention for a mission of ``actor_kind``."""
    fee = tariff.mission_fee(actor_kind)
    rule = tariff.vat["mission"]
    who = actor_label(actor_kind)
    if is_member and fee.members_included:
        pricing = Pricing("included", _ONE, Decimal("0.00"), is_member)
        label = f"{title} ({who}) — compris dans la cotisation des adhérents"
        return pricing, [Line.priced("mission", label, _ONE, "forfait", _ZERO, _ZERO, rule)]
    price = fee.member if is_member else fee.non_member
    rate_name = "tarif adhérent" if is_member else "tarif non adhérent"
    if fee.unit == "day":
        days = DEFAULT_ESTIMATED_DAYS if estimated_days is None else estimated_days
        if days <= 0:
            raise PricingError("Le nombre de jours estimé doit être positif.")
        plural = "s" if days >= 2 else ""
        label = (
            f"{title} ({who}) — {number(days)} jour{plural} estimé{plural} × "
            f"{rate_euros(price)} ({rate_name})"
        )
        pricing = Pricing("day", days, price, is_member)
        return pricing, [Line.priced("mission", label, days, "jour", price, days * price, rule)]
    if fee.unit == "percent":
        works = works_amount or Decimal("0.00")
        label = (
            f"{title} ({who}) — {percent(price)} du montant des travaux de "
            f"{euros(works)} ({rate_name})"
        )
        pricing = Pricing("percent", works, price, is_member)
        return pricing, [
            Line.priced("mission", label, _ONE, "forfait", works * price, works * price, rule)
        ]
    label = f"{title} ({who}) — forfait de {rate_euros(price)} ({rate_name})"
    pricing = Pricing("flat", _ONE, price, is_member)
    return pricing, [Line.priced("mission", label, _ONE, "forfait", price, price, rule)]


def needs_works_amount(convention: Convention) -> bool:
    """A percentage of works cannot be sent for signature before the works are estimated."""
    return convention.pricing.mode == "percent" and convention.pricing.quantity <= 0


def _rule(convention: Convention) -> VatRule:
    first = convention.lines[0]
    return VatRule(first.vat_rate, first.vat_mention)


def advance_line(convention: Convention, installment: Installment) -> Line:
    """The invoice line of the advance due at signature."""
    amount = convention.totals.excl_tax * installment.share
    label = (
        f"{installment.label} ({percent(installment.share)}) — convention "
        f"n° {convention.number} : {convention.object}"
    )
    return Line.priced("mission", label, _ONE, "forfait", amount, amount, _rule(convention))


def balance_line(convention: Convention, already_invoiced: Decimal, label: str) -> Line:
    """The invoice line of the balance: the signed price less what was invoiced before."""
    amount = convention.totals.excl_tax - already_invoiced
    text = f"{label} — convention n° {convention.number} : {convention.object}"
    return Line.priced("mission", text, _ONE, "forfait", amount, amount, _rule(convention))


def delta_line(convention: Convention, version: int, delta: Decimal, reason: str) -> Line:
    """The line an avenant adds to the convention's: its price delta and its reason."""
    label = f"Avenant n° {version} : {reason}"
    return Line.priced("mission", label, _ONE, "forfait", delta, delta, _rule(convention))
