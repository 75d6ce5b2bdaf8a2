"""Cotisations and mission fees computed by hand, line by line.

Each expected figure is worked out in the comment above it, from the shipped
tariffs: 78-2027 (IngénierY', 0,70 € per inhabitant in one open band, ceiling
4 200 €, EPCI 0,10 €), 49-2027 (slices ≤ 500: 1,00 ; ≤ 2 000: 0,80 ;
≤ 10 000: 0,50 ; above: 0,30 ; floor 150 €, ceiling 12 000 €, coefficient
0,80 up to 999 inhabitants ; EPCI 0,15 € between 1 000 and 25 000 €) and
24-2027 (whole-population bands ≤ 1 000: 0,50 ; ≤ 3 500: 0,60 ; above: 0,75 ;
floor 100 €, ceiling 6 000 €).

Labels use French typography: a narrow no-break space (\u202f) between digit
groups and a no-break space (\xa0) before "€".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.billing.domain.invoice import Line, Totals, credit_lines, totals
from services.billing.domain.pricing import PricingError, cotisation_lines, mission_lines
from services.billing.domain.shipped_tariffs import load_shipped
from services.billing.domain.tariff import Tariff
from services.billing.domain.tariff_parsing import parse_tariff
from shared.french import number, rate_euros
from shared.refdata import get_territories

MENTION = "TVA non applicable, article 256 B du CGI"


def shipped(departement: str) -> Tariff:
    tariff = load_shipped(departement, 2027)
    assert tariff is not None
    return tariff


def custom(
    tiers: list[dict[str, Any]],
    *,
    mode: str = "whole",
    mission_vat: str = "0",
    cotisation_vat: str = "0",
    **commune: Any,
) -> Tariff:
    def rule(rate: str) -> dict[str, Any]:
        return {"rate": rate, "mention": MENTION if rate == "0" else None}

    return parse_tariff(
        {
            "departement": "35",
            "year": 2027,
            "version": 1,
            "label": "Tarif d'essai",
            "commune": {"tier_mode": mode, "tiers": tiers, **commune},
            "epci": None,
            "mission_fees": {
                "default": {"unit": "day", "member": "425.05", "non_member": "500.00"},
            },
            "vat": {"cotisation": rule(cotisation_vat), "mission": rule(mission_vat)},
        }
    )


def commune(tariff: Tariff, population: int) -> list[Line]:
    return cotisation_lines(tariff, "commune", population, 2027)


def amounts(lines: list[Line]) -> list[str]:
    return [str(line.amount_excl_tax) for line in lines]


def total(lines: list[Line]) -> str:
    return str(totals(lines).excl_tax)


# --- 78: one open band at 0,70 €, ceiling 4 200 € -----------------------------------------------


def test_yvelines_just_below_the_6000_inhabitants() -> None:
    lines = commune(shipped("78"), 5999)
    # 5 999 × 0,70 = 4 199,30, under the ceiling.
    assert amounts(lines) == ["4199.30"]
    assert total(lines) == "4199.30"
    assert lines[0].label == "Cotisation 2027 — 5\u202f999 habitants × 0,70\xa0€"
    assert (lines[0].quantity, lines[0].unit, lines[0].unit_price) == (
        Decimal(5999),
        "habitant",
        Decimal("0.70"),
    )
    assert lines[0].vat_mention == MENTION


def test_yvelines_at_6000_inhabitants_reaches_the_ceiling_exactly() -> None:
    lines = commune(shipped("78"), 6000)
    # 6 000 × 0,70 = 4 200,00 = the ceiling: no adjustment line.
    assert amounts(lines) == ["4200.00"]


def test_yvelines_above_6000_inhabitants_pays_the_ceiling() -> None:
    lines = commune(shipped("78"), 6001)
    # 6 001 × 0,70 = 4 200,70 ; capped at 4 200,00 → adjustment 4 200,00 − 4 200,70 = −0,70.
    assert amounts(lines) == ["4200.70", "-0.70"]
    assert total(lines) == "4200.00"
    assert lines[1].label == "Plafonnement à 4\u202f200,00\xa0€"
    assert (lines[1].quantity, lines[1].unit, lines[1].unit_price) == (
        Decimal(1),
        "ajustement",
        Decimal("-0.70"),
    )


def test_yvelines_large_commune() -> None:
    # 45 000 × 0,70 = 31 500,00 ; capped at 4 200,00 → −27 300,00.
    assert amounts(commune(shipped("78"), 45000)) == ["31500.00", "-27300.00"]


# --- 49: slices -----------------------------------------------------------------------------------


def test_slices_around_6000_inhabitants() -> None:
    tariff = shipped("49")
    # 500 × 1,00 = 500,00 ; 1 500 × 0,80 = 1 200,00 ; 3 999 × 0,50 = 1 999,50 → 3 699,50.
    lines = commune(tariff, 5999)
    assert amounts(lines) == ["500.00", "1200.00", "1999.50"]
    assert total(lines) == "3699.50"
    assert [line.label for line in lines] == [
        "Cotisation 2027, tranche jusqu'à 500 habitants — 500 habitants × 1,00\xa0€",
        "Cotisation 2027, tranche de 501 à 2\u202f000 habitants — 1\u202f500 habitants × 0,80\xa0€",
        "Cotisation 2027, tranche de 2\u202f001 à 10\u202f000 habitants — "
        "3\u202f999 habitants × 0,50\xa0€",
    ]
    # … 4 000 × 0,50 = 2 000,00 → 3 700,00.
    assert total(commune(tariff, 6000)) == "3700.00"
    # … 4 001 × 0,50 = 2 000,50 → 3 700,50.
    assert total(commune(tariff, 6001)) == "3700.50"


def test_slices_at_their_own_boundaries() -> None:
    tariff = shipped("49")
    # 2 000: 500 + 1 500 × 0,80 = 1 700,00 (no solidarity from 1 000 inhabitants on).
    assert amounts(commune(tariff, 2000)) == ["500.00", "1200.00"]
    # 2 001: one inhabitant in the third slice, 0,50.
    assert amounts(commune(tariff, 2001)) == ["500.00", "1200.00", "0.50"]
    # 10 000: 500 + 1 200 + 8 000 × 0,50 = 5 700,00.
    assert total(commune(tariff, 10000)) == "5700.00"
    # 10 001: + 1 × 0,30 → 5 700,30, in four lines.
    lines = commune(tariff, 10001)
    assert amounts(lines) == ["500.00", "1200.00", "4000.00", "0.30"]
    assert lines[-1].label == (
        "Cotisation 2027, tranche au-delà de 10\u202f000 habitants — 1 habitant × 0,30\xa0€"
    )


def test_slice_ceiling() -> None:
    tariff = shipped("49")
    # 31 000: 5 700 + 21 000 × 0,30 = 12 000,00 = the ceiling, no adjustment.
    assert total(commune(tariff, 31000)) == "12000.00"
    assert len(commune(tariff, 31000)) == 4
    # 40 000: 5 700 + 30 000 × 0,30 = 14 700,00 → capped, −2 700,00.
    lines = commune(tariff, 40000)
    assert amounts(lines) == ["500.00", "1200.00", "4000.00", "9000.00", "-2700.00"]
    assert lines[-1].label == "Plafonnement à 12\u202f000,00\xa0€"


def test_solidarity_coefficient_under_1000_inhabitants() -> None:
    tariff = shipped("49")
    # 999: 500 + 499 × 0,80 = 899,20 ; × 0,80 = 719,36 → adjustment −179,84.
    lines = commune(tariff, 999)
    assert amounts(lines) == ["500.00", "399.20", "-179.84"]
    assert total(lines) == "719.36"
    assert lines[-1].label == "Coefficient de solidarité × 0,80 (communes jusqu'à 999 habitants)"
    # 1 000: 500 + 500 × 0,80 = 900,00, out of the solidarity band.
    assert amounts(commune(tariff, 1000)) == ["500.00", "400.00"]


def test_solidarity_rounds_the_adjusted_cotisation_not_the_adjustment() -> None:
    tariff = custom(
        [{"up_to": None, "rate": "1.01"}], solidarity=[{"up_to": None, "coefficient": "0.5"}]
    )
    # 1 × 1,01 = 1,01 ; × 0,5 = 0,505 → 0,51, so the adjustment is −0,50 (rounding the
    # adjustment −0,505 itself would give −0,51 and a cotisation of 0,50).
    lines = commune(tariff, 1)
    assert amounts(lines) == ["1.01", "-0.50"]
    assert lines[-1].label == "Coefficient de solidarité × 0,50"


def test_floor_applies_after_solidarity() -> None:
    tariff = shipped("49")
    # 100: 100 × 1,00 = 100,00 ; × 0,80 = 80,00 (−20,00) ; floor 150 → +70,00.
    lines = commune(tariff, 100)
    assert amounts(lines) == ["100.00", "-20.00", "70.00"]
    assert total(lines) == "150.00"
    assert lines[-1].label == "Ajustement au plancher de 150,00\xa0€"
    # 180: 180,00 × 0,80 = 144,00 → +6,00 to the floor.
    assert amounts(commune(tariff, 180)) == ["180.00", "-36.00", "6.00"]
    # 190: 190,00 × 0,80 = 152,00, above the floor: no floor line.
    assert amounts(commune(tariff, 190)) == ["190.00", "-38.00"]


def test_unknown_population_still_pays_the_floor() -> None:
    # 0 inhabitant: 0,00 ; the coefficient changes nothing; floor 150,00.
    lines = commune(shipped("49"), 0)
    assert amounts(lines) == ["0.00", "150.00"]
    assert lines[0].label == (
        "Cotisation 2027, tranche jusqu'à 500 habitants — 0 habitant × 1,00\xa0€"
    )
    # Without a floor, a commune of unknown population owes nothing.
    assert amounts(commune(shipped("78"), 0)) == ["0.00"]


# --- 24: whole-population bands -------------------------------------------------------------------


def test_whole_population_bands() -> None:
    tariff = shipped("24")
    # 1 000 × 0,50 = 500,00.
    lines = commune(tariff, 1000)
    assert amounts(lines) == ["500.00"]
    assert lines[0].label == (
        "Cotisation 2027 — 1\u202f000 habitants × 0,50\xa0€ (tranche jusqu'à 1\u202f000 habitants)"
    )
    # 1 001 × 0,60 = 600,60: the whole population at the second band's rate.
    assert amounts(commune(tariff, 1001)) == ["600.60"]
    # 3 501 × 0,75 = 2 625,75.
    assert amounts(commune(tariff, 3501)) == ["2625.75"]
    # 150 × 0,50 = 75,00 → floor 100,00: +25,00.
    assert amounts(commune(tariff, 150)) == ["75.00", "25.00"]
    # 12 000 × 0,75 = 9 000,00 → ceiling 6 000,00: −3 000,00.
    assert amounts(commune(tariff, 12000)) == ["9000.00", "-3000.00"]


def test_a_closed_last_band_caps_the_population_counted() -> None:
    tariff = custom([{"up_to": 6000, "rate": "0.70"}])
    # 8 512 inhabitants, counted up to 6 000: 6 000 × 0,70 = 4 200,00.
    lines = commune(tariff, 8512)
    assert amounts(lines) == ["4200.00"]
    assert lines[0].quantity == Decimal(6000)
    assert lines[0].label == (
        "Cotisation 2027 — 6\u202f000 habitants × 0,70\xa0€ "
        "(population de 8\u202f512 habitants, comptée jusqu'à 6\u202f000)"
    )
    sliced = custom([{"up_to": 100, "rate": "1"}, {"up_to": 200, "rate": "0.5"}], mode="slice")
    # 100 × 1 + 100 × 0,5 = 150,00 ; the 300 inhabitants beyond 200 are not counted.
    assert amounts(commune(sliced, 500)) == ["100.00", "50.00"]


# --- EPCI -----------------------------------------------------------------------------------------


def test_epci_population_is_the_sum_of_its_communes() -> None:
    territories = get_territories()
    for siren in ("200068955", "244900015", "200058782", "244400552"):
        epci = territories.epci(siren)
        assert epci is not None
        populations = []
        for code in epci.commune_codes:
            found = territories.commune(code)
            assert found is not None
            populations.append(found.population)
        assert epci.population == sum(populations)


def test_epci_cotisations() -> None:
    territories = get_territories()

    anjou_loir_et_sarthe = territories.epci("200068955")
    assert anjou_loir_et_sarthe is not None
    assert anjou_loir_et_sarthe.population == 27825  # populations légales in the refdata
    lines = cotisation_lines(shipped("49"), "epci", anjou_loir_et_sarthe.population, 2027)
    # 27 825 × 0,15 = 4 173,75, between 1 000 and 25 000.
    assert amounts(lines) == ["4173.75"]
    assert lines[0].label == "Cotisation 2027 de l'EPCI — 27\u202f825 habitants × 0,15\xa0€"

    angers = territories.epci("244900015")
    assert angers is not None
    assert angers.population == 296390
    # 296 390 × 0,15 = 44 458,50 → ceiling 25 000,00: −19 458,50.
    lines = cotisation_lines(shipped("49"), "epci", angers.population, 2027)
    assert amounts(lines) == ["44458.50", "-19458.50"]
    assert total(lines) == "25000.00"

    saint_quentin = territories.epci("200058782")
    assert saint_quentin is not None
    assert saint_quentin.population == 229353
    # 229 353 × 0,10 = 22 935,30, no floor nor ceiling for EPCI in the Yvelines.
    assert amounts(cotisation_lines(shipped("78"), "epci", saint_quentin.population, 2027)) == [
        "22935.30"
    ]

    # 4 000 × 0,15 = 600,00 → EPCI floor 1 000,00: +400,00. No solidarity for EPCI.
    assert amounts(cotisation_lines(shipped("49"), "epci", 4000, 2027)) == ["600.00", "400.00"]


def test_a_tariff_without_epci_refuses_them() -> None:
    with pytest.raises(PricingError, match="ne prévoit pas d'adhésion des EPCI"):
        cotisation_lines(custom([{"up_to": None, "rate": "1"}]), "epci", 1000, 2027)


# --- missions -------------------------------------------------------------------------------------


def test_mission_by_the_day_member_and_non_member() -> None:
    tariff = shipped("78")  # CAUE: 350,00 € a day for members, 520,00 € for the others.
    # 3,5 × 350,00 = 1 225,00.
    member = mission_lines(tariff, "caue", Decimal("3.5"), True, "Mission d'accompagnement")
    assert amounts(member) == ["1225.00"]
    assert member[0].label == (
        "Mission d'accompagnement (CAUE) — 3,5 jours × 350,00\xa0€ (tarif adhérent)"
    )
    assert (member[0].kind, member[0].quantity, member[0].unit) == (
        "mission",
        Decimal("3.5"),
        "jour",
    )
    # 3,5 × 520,00 = 1 820,00.
    other = mission_lines(tariff, "caue", Decimal("3.5"), False, "Mission d'accompagnement")
    assert amounts(other) == ["1820.00"]
    assert other[0].label.endswith("× 520,00\xa0€ (tarif non adhérent)")
    # 1,5 day is still singular in French: 1,5 × 350,00 = 525,00.
    half = mission_lines(tariff, "caue", Decimal("1.5"), True, "Conseil")
    assert half[0].label == "Conseil (CAUE) — 1,5 jour × 350,00\xa0€ (tarif adhérent)"
    assert amounts(half) == ["525.00"]


def test_flat_mission_fee_ignores_days() -> None:
    tariff = shipped("49")  # CNFPT: flat 250,00 € for members, 400,00 € for the others.
    member = mission_lines(tariff, "cnfpt", Decimal(2), True, "Formation des élus")
    assert amounts(member) == ["250.00"]
    assert member[0].label == (
        "Formation des élus (CNFPT) — forfait de 250,00\xa0€ (tarif adhérent)"
    )
    assert (member[0].quantity, member[0].unit) == (Decimal(1), "forfait")
    other = mission_lines(tariff, "cnfpt", Decimal(0), False, "Formation des élus")
    assert amounts(other) == ["400.00"]


def test_an_actor_kind_without_its_own_fee_takes_the_default() -> None:
    # 49 default: 500,00 € a day for non-members ; 2 × 500,00 = 1 000,00.
    lines = mission_lines(shipped("49"), "epf", Decimal(2), False, "  Portage\nfoncier ")
    assert amounts(lines) == ["1000.00"]
    assert lines[0].label == "Portage foncier (EPF) — 2 jours × 500,00\xa0€ (tarif non adhérent)"


def test_bad_days_are_refused() -> None:
    with pytest.raises(PricingError, match="Nombre de jours"):
        mission_lines(shipped("49"), "caue", Decimal(-1), True, "Mission")
    with pytest.raises(PricingError, match="Nombre de jours"):
        mission_lines(shipped("49"), "caue", Decimal("NaN"), True, "Mission")


# --- rounding -------------------------------------------------------------------------------------


def test_half_cents_round_up_on_each_line() -> None:
    tariff = custom([{"up_to": None, "rate": "0.335"}])
    # 3 × 0,335 = 1,005 → 1,01.
    lines = commune(tariff, 3)
    assert amounts(lines) == ["1.01"]
    assert lines[0].label == "Cotisation 2027 — 3 habitants × 0,335\xa0€"
    # 1 × 0,335 = 0,335 → 0,34 ; 9 × 0,335 = 3,015 → 3,02.
    assert amounts(commune(tariff, 1)) == ["0.34"]
    assert amounts(commune(tariff, 9)) == ["3.02"]


def test_totals_add_the_rounded_lines_not_the_raw_amounts() -> None:
    tariff = custom([{"up_to": 3, "rate": "0.335"}, {"up_to": None, "rate": "0.335"}], mode="slice")
    # Two slices of 3 × 0,335 = 1,005 → 1,01 each: 2,02, where 6 × 0,335 = 2,01.
    lines = commune(tariff, 6)
    assert amounts(lines) == ["1.01", "1.01"]
    assert totals(lines) == Totals(Decimal("2.02"), Decimal("0.00"), Decimal("2.02"))


def test_vat_half_cents_round_up_per_line() -> None:
    tariff = custom([{"up_to": None, "rate": "1"}], mission_vat="0.10")
    # 1 day × 425,05 = 425,05 ; VAT 10 % = 42,505 → 42,51 ; incl. 467,56.
    (line,) = mission_lines(tariff, "atd", Decimal(1), True, "Assistance")
    assert (line.amount_excl_tax, line.vat_rate, line.vat_amount, line.amount_incl_tax) == (
        Decimal("425.05"),
        Decimal("0.10"),
        Decimal("42.51"),
        Decimal("467.56"),
    )
    assert line.vat_mention is None
    # Two such lines: VAT 42,51 + 42,51 = 85,02, not 10 % of 850,10 = 85,01.
    assert totals([line, line]) == Totals(Decimal("850.10"), Decimal("85.02"), Decimal("935.12"))


def test_vat_on_a_negative_adjustment_rounds_half_away_from_zero() -> None:
    tariff = custom([{"up_to": None, "rate": "1"}], cotisation_vat="0.055", ceiling="100.00")
    # 110 × 1 = 110,00, VAT 5,5 % = 6,05 ; ceiling −10,00, VAT −0,55 ; total 100,00 + 5,50.
    lines = commune(tariff, 110)
    assert [(str(line.amount_excl_tax), str(line.vat_amount)) for line in lines] == [
        ("110.00", "6.05"),
        ("-10.00", "-0.55"),
    ]
    assert totals(lines) == Totals(Decimal("100.00"), Decimal("5.50"), Decimal("105.50"))
    # 101 × 1 = 101,00, VAT 5,555 → 5,56 ; −1,00, VAT −0,055 → −0,06 ; total VAT 5,50.
    lines = commune(tariff, 101)
    assert [str(line.vat_amount) for line in lines] == ["5.56", "-0.06"]
    assert totals(lines).incl_tax == Decimal("105.50")


# --- credit notes, errors, formatting -------------------------------------------------------------


def test_a_credit_note_cancels_the_invoice_to_the_cent() -> None:
    tariff = custom([{"up_to": None, "rate": "0.335"}], cotisation_vat="0.20", floor="1.50")
    # 3 × 0,335 = 1,01 (VAT 0,20) ; floor +0,49 (VAT 0,10).
    lines = commune(tariff, 3)
    assert [(str(x.amount_excl_tax), str(x.vat_amount)) for x in lines] == [
        ("1.01", "0.20"),
        ("0.49", "0.10"),
    ]
    credit = credit_lines(lines)
    assert [str(x.amount_incl_tax) for x in credit] == ["-1.21", "-0.59"]
    assert credit[0].label == "Annulation : Cotisation 2027 — 3 habitants × 0,335\xa0€"
    assert credit[0].quantity == Decimal(-3)
    assert totals(lines + credit) == Totals(Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    assert str(credit_lines(commune(shipped("78"), 0))[0].amount_excl_tax) == "0.00"


def test_pricing_refuses_what_it_cannot_price() -> None:
    with pytest.raises(PricingError, match="ne peut pas servir à calculer une cotisation 2028"):
        cotisation_lines(shipped("49"), "commune", 1000, 2028)
    with pytest.raises(PricingError, match="Population -1 invalide"):
        commune(shipped("49"), -1)


def test_french_number_formatting_of_the_labels() -> None:
    # Labels show every decimal of a rate: rounding "0,335 €" to "0,34 €" would hide a price.
    assert number(1234) == "1\u202f234"
    assert number(Decimal("1234567.5")) == "1\u202f234\u202f567,5"
    assert number(Decimal("3.50")) == "3,5"
    assert number(Decimal("-0.70"), 2) == "-0,70"
    assert rate_euros(Decimal("4200")) == "4\u202f200,00\xa0€"
    assert rate_euros(Decimal("0.335")) == "0,335\xa0€"
    assert rate_euros(Decimal("0.7")) == "0,70\xa0€"
