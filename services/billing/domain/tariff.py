"""A département's tariff of one year: the model, and the JSON document it is written as
(parsed and checked by ``tariff_parsing``, shipped ones found by ``shipped_tariffs``).

One document per département and year::

    {"departement": "49", "year": 2027, "version": 1, "label": "...",
     "commune": {"tier_mode": "slice",
                 "tiers": [{"up_to": 500, "rate": "1.00"}, {"up_to": null, "rate": "0.30"}],
                 "floor": "150.00", "ceiling": "12000.00",
                 "solidarity": [{"up_to": 999, "coefficient": "0.80"}]},
     "epci": {"rate": "0.15", "floor": "1000.00", "ceiling": "25000.00"},
     "mission_fees": {"default": {"unit": "day", "member": "350.00", "non_member": "500.00"},
                      "cnfpt": {"unit": "flat", "member": "250.00", "non_member": "400.00"}},
     "vat": {"cotisation": {"rate": "0", "mention": "TVA non applicable, article 256 B du CGI"},
             "mission": {"rate": "0", "mention": "TVA non applicable, article 256 B du CGI"}}}

Every error names the field, in French: the tariff is written by a département's
team, who must be able to fix it from the message alone. Decimal values are
JSON strings or integers; JSON floats are refused because ``0.1`` has no exact
binary value and a tariff is money.

A closed last tier (``up_to`` not null) caps the population that is counted:
inhabitants beyond it are not charged. An open last tier charges everyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from services.billing.domain.invoice import VatRule

REFERENCE_DEPARTEMENT = "00"
"""The code the national reference tariff carries in its file; no real département has it."""

TierMode = Literal["whole", "slice"]
FeeUnit = Literal["day", "flat", "percent"]

DEFAULT_MISSION_FEE = "default"
VAT_KINDS = ("cotisation", "mission")

DEPARTEMENT_CODE = re.compile(r"0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-6]")
MIN_YEAR, MAX_YEAR = 2000, 2100


class TariffError(ValueError):
    """The tariff document is not valid; the message (French) says which field and why."""


@dataclass(frozen=True, slots=True)
class Tier:
    """€ per inhabitant for the population band ending at ``up_to`` inclusive (None: no end)."""

    up_to: int | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class SolidarityBand:
    """Coefficient on the communes' cotisation for the band ending at ``up_to`` inclusive."""

    up_to: int | None
    coefficient: Decimal


@dataclass(frozen=True, slots=True)
class MissionFee:
    """Price of a mission: per day spent, flat, or a share of the works (``percent``, a
    fraction); members pay ``member``, nothing when ``members_included`` (the mission is
    part of what their cotisation buys)."""

    unit: FeeUnit
    member: Decimal
    non_member: Decimal
    members_included: bool = False


@dataclass(frozen=True, slots=True)
class Tariff:
    """A département's tariff for one year; build it with ``parse_tariff``, which checks it.

    ``tier_mode`` "whole": the rate of the band the population falls in applies to the
    whole population. "slice": each slice of the population is charged at its band's rate,
    like income tax. Floors and ceilings apply to the amount after the solidarity
    coefficient. ``epci_rate`` None: EPCIs cannot be members. ``mission_fees`` is keyed by
    actor kind and always has ``"default"``; ``vat`` has ``"cotisation"`` and ``"mission"``.
    """

    departement: str
    year: int
    version: int
    label: str
    commune_tiers: tuple[Tier, ...]
    tier_mode: TierMode
    commune_floor: Decimal | None
    commune_ceiling: Decimal | None
    epci_rate: Decimal | None
    epci_floor: Decimal | None
    epci_ceiling: Decimal | None
    solidarity: tuple[SolidarityBand, ...]
    mission_fees: Mapping[str, MissionFee]
    vat: Mapping[str, VatRule]

    def mission_fee(self, actor_kind: str) -> MissionFee:
        """The fee of missions delivered by ``actor_kind``, or the default fee."""
        return self.mission_fees.get(actor_kind, self.mission_fees[DEFAULT_MISSION_FEE])


def tariff_to_dict(tariff: Tariff) -> dict[str, Any]:
    """``tariff`` as a JSON-ready document in a stable order; ``parse_tariff`` reads it back."""
    return {
        "departement": tariff.departement,
        "year": tariff.year,
        "version": tariff.version,
        "label": tariff.label,
        "commune": {
            "tier_mode": tariff.tier_mode,
            "tiers": [{"up_to": t.up_to, "rate": str(t.rate)} for t in tariff.commune_tiers],
            "floor": _text(tariff.commune_floor),
            "ceiling": _text(tariff.commune_ceiling),
            "solidarity": [
                {"up_to": b.up_to, "coefficient": str(b.coefficient)} for b in tariff.solidarity
            ],
        },
        "epci": None
        if tariff.epci_rate is None
        else {
            "rate": str(tariff.epci_rate),
            "floor": _text(tariff.epci_floor),
            "ceiling": _text(tariff.epci_ceiling),
        },
        "mission_fees": {
            kind: {"unit": fee.unit, "member": str(fee.member), "non_member": str(fee.non_member)}
            | ({"members_included": True} if fee.members_included else {})
            for kind, fee in sorted(tariff.mission_fees.items())
        },
        "vat": {
            kind: {"rate": str(rule.rate), "mention": rule.mention}
            for kind, rule in sorted(tariff.vat.items())
        },
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
