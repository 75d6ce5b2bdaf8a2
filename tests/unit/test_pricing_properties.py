"""Properties of the pricing on thousands of random tariffs and populations.

The expected cotisation is recomputed from scratch (bands, coefficient, floor,
ceiling) rather than through the pricing module's helpers, so that a mistake
in the pricing cannot hide behind the same mistake in its test.

Monotonicity is asserted only where it holds. A slice tariff without solidarity
never charges more inhabitants less: each slice adds a non-negative amount. A
whole-population tariff does only when its rates do not fall from one band to
the next: with 1,00 € up to 500 and 0,80 € above, 500 inhabitants pay 500 €
and 501 pay 400,80 € (see ``test_whole_mode_with_falling_rates_is_not_monotonic``).
A solidarity coefficient breaks it too (the 49's 999 inhabitants pay less than
its 1 000). Floors and ceilings keep it, being a clamp.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.billing.domain.invoice import Line, credit_lines, totals
from services.billing.domain.pricing import cotisation_lines, mission_lines
from services.billing.domain.tariff import Tariff
from services.billing.domain.tariff_parsing import parse_tariff

MENTION = "TVA non applicable, article 256 B du CGI"
VAT_RATES = ("0", "0.021", "0.055", "0.10", "0.20")
MAX_POPULATION = 300_000

SETTINGS = settings(max_examples=300, derandomize=True, deadline=None)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _decimal(low: int, high: int, places: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: str(Decimal(n).scaleb(-places)))


# Halves and quarters put amounts on half cents often, where rounding choices show.
coefficients = st.one_of(st.sampled_from(["0.5", "0.25", "0.75", "1.5"]), _decimal(1, 20_000, 4))


def _vat_rule(rate: str) -> dict[str, Any]:
    return {"rate": rate, "mention": MENTION if rate == "0" else None}


@st.composite
def tariffs(draw: st.DrawFn, *, mode: str | None = None, monotonic: bool = False) -> Tariff:
    """A valid tariff; ``monotonic``: no solidarity and, in whole mode, non-falling rates."""
    tier_mode = mode or draw(st.sampled_from(["whole", "slice"]))
    bounds = sorted(draw(st.sets(st.integers(1, 60_000), min_size=0, max_size=4)))
    open_last = draw(st.booleans()) or not bounds
    ups: list[int | None] = [*bounds, None] if open_last else list(bounds)
    rates = draw(st.lists(_decimal(0, 2_000, 3), min_size=len(ups), max_size=len(ups)))
    if monotonic and tier_mode == "whole":
        rates.sort(key=Decimal)
    floor_ceiling = sorted(draw(st.lists(st.integers(0, 2_000_000), min_size=2, max_size=2)))
    floor = draw(st.sampled_from([None, str(Decimal(floor_ceiling[0]).scaleb(-2))]))
    ceiling = draw(st.sampled_from([None, str(Decimal(floor_ceiling[1]).scaleb(-2))]))
    solidarity: list[dict[str, Any]] = []
    if not monotonic:
        band_bounds = sorted(draw(st.sets(st.integers(1, 60_000), max_size=2)))
        band_ups: list[int | None] = list(band_bounds)
        if draw(st.booleans()):
            band_ups.append(None)
        solidarity = [{"up_to": up_to, "coefficient": draw(coefficients)} for up_to in band_ups]
    epci = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda rate, bounds: {
                    "rate": rate,
                    "floor": str(Decimal(bounds[0]).scaleb(-2)),
                    "ceiling": str(Decimal(bounds[1]).scaleb(-2)),
                },
                _decimal(0, 1_000, 3),
                st.lists(st.integers(0, 5_000_000), min_size=2, max_size=2).map(sorted),
            ),
        )
    )
    member_fee, non_member_fee = sorted(
        draw(st.lists(st.integers(0, 100_000), min_size=2, max_size=2))
    )
    return parse_tariff(
        {
            "departement": "35",
            "year": 2027,
            "version": 1,
            "label": "Tarif tiré au hasard",
            "commune": {
                "tier_mode": tier_mode,
                "tiers": [
                    {"up_to": up_to, "rate": rate} for up_to, rate in zip(ups, rates, strict=True)
                ],
                "floor": floor,
                "ceiling": ceiling,
                "solidarity": solidarity,
            },
            "epci": epci,
            "mission_fees": {
                "default": {
                    "unit": draw(st.sampled_from(["day", "flat"])),
                    "member": str(Decimal(member_fee).scaleb(-2)),
                    "non_member": str(Decimal(non_member_fee).scaleb(-2)),
                }
            },
            "vat": {
                "cotisation": _vat_rule(draw(st.sampled_from(VAT_RATES))),
                "mission": _vat_rule(draw(st.sampled_from(VAT_RATES))),
            },
        }
    )


@st.composite
def populations(draw: st.DrawFn, tariff: Tariff) -> int:
    """Mostly at or next to a band's edge, where mistakes hide."""
    edges = [t.up_to for t in tariff.commune_tiers if t.up_to is not None]
    edges += [b.up_to for b in tariff.solidarity if b.up_to is not None]
    near_edge = st.sampled_from(edges or [0]).flatmap(
        lambda edge: st.integers(max(0, edge - 1), edge + 1)
    )
    return draw(st.one_of(st.integers(0, MAX_POPULATION), near_edge, st.just(0)))


# --- the oracle -----------------------------------------------------------------------------------


def expected_commune(tariff: Tariff, population: int) -> Decimal:
    bands: list[tuple[int, int | None, Decimal]] = []
    low = 0
    for tier in tariff.commune_tiers:
        bands.append((low, tier.up_to, tier.rate))
        low = tier.up_to or low
    if tariff.tier_mode == "slice":
        base = sum(
            (
                cents(max(0, min(population, high or population) - low) * rate)
                for low, high, rate in bands
            ),
            Decimal(0),
        )
    else:
        containing = [rate for low, high, rate in bands if high is None or population <= high]
        if containing:
            base = cents(population * containing[0])
        else:
            _, last_high, last_rate = bands[-1]
            assert last_high is not None
            base = cents(last_high * last_rate)
    coefficients = [
        b.coefficient for b in tariff.solidarity if b.up_to is None or population <= b.up_to
    ]
    after = cents(base * coefficients[0]) if coefficients else base
    return clamp(after, tariff.commune_floor, tariff.commune_ceiling)


def clamp(amount: Decimal, floor: Decimal | None, ceiling: Decimal | None) -> Decimal:
    if floor is not None:
        amount = max(amount, floor)
    if ceiling is not None:
        amount = min(amount, ceiling)
    return amount


def check_money(lines: list[Line]) -> None:
    for line in lines:
        for amount in (line.amount_excl_tax, line.vat_amount, line.amount_incl_tax):
            assert amount.as_tuple().exponent == -2, line
        assert line.vat_amount == cents(line.amount_excl_tax * line.vat_rate)
        assert line.amount_incl_tax == line.amount_excl_tax + line.vat_amount
    sums = totals(lines)
    assert sums.excl_tax == sum((line.amount_excl_tax for line in lines), Decimal(0))
    assert sums.vat == sum((line.vat_amount for line in lines), Decimal(0))
    assert sums.incl_tax == sum((line.amount_incl_tax for line in lines), Decimal(0))
    assert sums.incl_tax == sums.excl_tax + sums.vat
    for amount in (sums.excl_tax, sums.vat, sums.incl_tax):
        assert amount.as_tuple().exponent == -2


# --- properties -----------------------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_commune_cotisation_matches_the_oracle_and_adds_up(data: st.DataObject) -> None:
    tariff = data.draw(tariffs())
    population = data.draw(populations(tariff))
    lines = cotisation_lines(tariff, "commune", population, 2027)
    check_money(lines)
    due = totals(lines).excl_tax
    assert due == expected_commune(tariff, population)
    if tariff.commune_floor is not None:
        assert due >= tariff.commune_floor
    if tariff.commune_ceiling is not None:
        assert due <= tariff.commune_ceiling
    assert all(line.kind == "cotisation" for line in lines)
    priced = [line for line in lines if line.unit == "habitant"]
    assert priced, "every cotisation shows at least one line per inhabitant"
    for line in priced:
        assert line.amount_excl_tax == cents(line.quantity * line.unit_price)


@SETTINGS
@given(st.data())
def test_slice_mode_is_the_sum_over_bands(data: st.DataObject) -> None:
    tariff = data.draw(tariffs(mode="slice"))
    population = data.draw(populations(tariff))
    priced = [
        line
        for line in cotisation_lines(tariff, "commune", population, 2027)
        if line.unit == "habitant"
    ]
    # Each band computed on its own: the inhabitants between its bounds, at its rate.
    expected: list[tuple[Decimal, Decimal]] = []
    low = 0
    for tier in tariff.commune_tiers:
        high = population if tier.up_to is None else min(population, tier.up_to)
        if high > low or not expected:
            expected.append((Decimal(max(0, high - low)), tier.rate))
        if tier.up_to is None or population <= tier.up_to:
            break
        low = tier.up_to
    assert [(line.quantity, line.unit_price) for line in priced] == expected
    assert sum(line.quantity for line in priced) == min(
        population, tariff.commune_tiers[-1].up_to or population
    )


@SETTINGS
@given(st.data())
def test_cotisation_never_falls_with_population_where_it_should_not(
    data: st.DataObject,
) -> None:
    tariff = data.draw(tariffs(monotonic=True))
    population = data.draw(populations(tariff))
    more = population + data.draw(st.integers(1, 20_000))
    fewer_due = totals(cotisation_lines(tariff, "commune", population, 2027)).excl_tax
    more_due = totals(cotisation_lines(tariff, "commune", more, 2027)).excl_tax
    assert fewer_due <= more_due


@SETTINGS
@given(st.data())
def test_epci_cotisation_and_missions(data: st.DataObject) -> None:
    tariff = data.draw(tariffs())
    population = data.draw(st.integers(0, 2_000_000))
    if tariff.epci_rate is not None:
        lines = cotisation_lines(tariff, "epci", population, 2027)
        check_money(lines)
        assert totals(lines).excl_tax == clamp(
            cents(population * tariff.epci_rate), tariff.epci_floor, tariff.epci_ceiling
        )

    days = Decimal(data.draw(st.integers(0, 2_000))).scaleb(-1)
    fee = tariff.mission_fees["default"]
    member = mission_lines(tariff, "caue", days, True, "Mission")
    other = mission_lines(tariff, "caue", days, False, "Mission")
    check_money(member + other)
    quantity = days if fee.unit == "day" else Decimal(1)
    assert member[0].amount_excl_tax == cents(quantity * fee.member)
    assert other[0].amount_excl_tax == cents(quantity * fee.non_member)
    assert member[0].amount_excl_tax <= other[0].amount_excl_tax


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.data())
def test_a_credit_note_cancels_its_invoice(data: st.DataObject) -> None:
    tariff = data.draw(tariffs())
    population = data.draw(populations(tariff))
    lines = cotisation_lines(tariff, "commune", population, 2027)
    lines += mission_lines(tariff, "atd", Decimal("2.5"), data.draw(st.booleans()), "Mission")
    credit = credit_lines(lines)
    check_money(credit)
    zero = Decimal("0.00")
    sums = totals(lines + credit)
    assert (sums.excl_tax, sums.vat, sums.incl_tax) == (zero, zero, zero)
    assert all(not str(line.amount_excl_tax).startswith("-0.00") for line in credit)


def test_whole_mode_with_falling_rates_is_not_monotonic() -> None:
    tariff = parse_tariff(
        {
            "departement": "35",
            "year": 2027,
            "version": 1,
            "label": "Taux décroissants",
            "commune": {
                "tier_mode": "whole",
                "tiers": [{"up_to": 500, "rate": "1.00"}, {"up_to": None, "rate": "0.80"}],
            },
            "mission_fees": {"default": {"unit": "day", "member": "1", "non_member": "1"}},
            "vat": {"cotisation": _vat_rule("0"), "mission": _vat_rule("0")},
        }
    )
    # 500 × 1,00 = 500,00 but 501 × 0,80 = 400,80.
    assert totals(cotisation_lines(tariff, "commune", 500, 2027)).excl_tax == Decimal("500.00")
    assert totals(cotisation_lines(tariff, "commune", 501, 2027)).excl_tax == Decimal("400.80")
