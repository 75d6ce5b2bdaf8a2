"""French formatting, once for every service (shared/french.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shared import french

NNBSP = "\u202f"
NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("1234.56"), f"1{NNBSP}234,56{NBSP}€"),
        (Decimal("0"), f"0,00{NBSP}€"),
        (Decimal("-12"), f"-12,00{NBSP}€"),
        (Decimal("1234567.891"), f"1{NNBSP}234{NNBSP}567,89{NBSP}€"),
        # Half-up to the cent, as the invoices round (not banker's rounding).
        (Decimal("0.125"), f"0,13{NBSP}€"),
        (Decimal("-0.125"), f"-0,13{NBSP}€"),
        ("999.995", f"1{NNBSP}000,00{NBSP}€"),
    ],
)
def test_euros_as_a_french_reader_expects(amount: Decimal | str, expected: str) -> None:
    assert french.euros(amount) == expected


def test_rates_keep_every_significant_decimal() -> None:
    assert french.rate_euros(Decimal("0.335")) == f"0,335{NBSP}€"
    assert french.rate_euros(Decimal("4200")) == f"4{NNBSP}200,00{NBSP}€"
    assert french.number(1500) == f"1{NNBSP}500"
    assert french.number(Decimal("3.50")) == "3,5"
    assert french.percent(Decimal("0.2")) == f"20{NBSP}%"
    assert french.percent(Decimal("0.055")) == f"5,5{NBSP}%"


def test_dates_are_said_in_paris_time() -> None:
    assert french.long_date(date(2027, 3, 1)) == "1er mars 2027"
    assert french.long_date(date(2027, 7, 14)) == "14 juillet 2027"
    # 22:30 UTC on 13 July is 00:30 on the 14th in Paris (summer time).
    late = datetime(2027, 7, 13, 22, 30, tzinfo=UTC)
    assert french.short_date(late) == "14/07/2027"
    assert french.long_datetime(late) == "14 juillet 2027 à 0 h 30"
    assert french.short_date(date(2027, 1, 5)) == "05/01/2027"
