"""Numbers, money and dates written the French way, once for every service and tool.

Money follows what a French reader expects and what CLDR's ``fr_FR`` locale gives
(``babel.numbers.format_currency(x, "EUR", locale="fr_FR")``): a narrow no-break space
between thousands and a no-break space before the euro sign, ``1 234,56 €``. Dates and
times are said in Paris time, since that is the day a person in France lives in.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

THOUSANDS_SEPARATOR = "\u202f"
UNIT_SEPARATOR = "\u00a0"

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def number(value: int | Decimal, min_places: int = 0) -> str:
    """``value`` the French way: "1 234", "0,335", "3,5"; at least ``min_places`` decimals.

    No rounding: every significant decimal is shown, so a label never hides part of a rate.
    """
    amount = Decimal(value)
    exponent = amount.normalize().as_tuple().exponent
    significant = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    places = max(min_places, significant)
    whole, _, fraction = f"{abs(amount):.{places}f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.append(whole[-3:])
        whole = whole[:-3]
    groups.append(whole)
    text = THOUSANDS_SEPARATOR.join(reversed(groups))
    if fraction:
        text += "," + fraction
    return f"-{text}" if amount < 0 else text


def euros(amount: Decimal | int | str) -> str:
    """An amount in euros rounded half-up to the cent: "1 234,56 €", "-12,00 €"."""
    cents = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{number(cents, 2)}{UNIT_SEPARATOR}€"


def file_size(size: int) -> str:
    """A file's size to one decimal, half-up: "850 octets", "12,3 ko", "1,2 Mo" (binary
    multiples, as file managers show them)."""
    if size < 1024:
        return f"{number(size)}{UNIT_SEPARATOR}octets"
    scale, unit = (1024, "ko") if size < 1024 * 1024 else (1024 * 1024, "Mo")
    amount = (Decimal(size) / scale).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    # "2 Mo" rather than "2,0 Mo"
    shown = amount.to_integral() if amount == amount.to_integral() else amount
    return f"{number(shown)}{UNIT_SEPARATOR}{unit}"


def rate_euros(amount: Decimal) -> str:
    """A unit price as the tariff states it, every decimal kept: "0,335 €", "4 200,00 €"."""
    return f"{number(amount, 2)}{UNIT_SEPARATOR}€"


def percent(rate: Decimal) -> str:
    """A rate given as a fraction, as a percentage: Decimal("0.2") → "20 %"."""
    return f"{number((rate * 100).normalize())}{UNIT_SEPARATOR}%"


def long_date(day: date) -> str:
    """ "1er mars 2027", "14 juillet 2027"."""
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {MONTHS[day.month - 1]} {day.year}"


def short_date(moment: date | datetime) -> str:
    """ "01/03/2027", in Paris time for a moment."""
    day = moment.astimezone(PARIS).date() if isinstance(moment, datetime) else moment
    return day.strftime("%d/%m/%Y")


def long_datetime(moment: datetime) -> str:
    """ "1er mars 2027 à 9 h 05", in Paris time."""
    local = moment.astimezone(PARIS)
    return f"{long_date(local.date())} à {local.hour} h {local.minute:02d}"
