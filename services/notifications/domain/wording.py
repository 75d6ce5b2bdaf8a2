"""How dates, amounts and needs are written in the messages: in French, in Paris time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from shared.contracts.matching import NeedRef
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS

PARIS = ZoneInfo("Europe/Paris")

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

# A narrow no-break space before the euro sign and between thousands, as French typography has it.
NNBSP = "\u202f"


def french_date(day: date) -> str:
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {MONTHS[day.month - 1]} {day.year}"


def french_datetime(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    return f"{french_date(local.date())} à {local.hour} h {local.minute:02d}"


def euros(amount: Decimal) -> str:
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    whole, _, fraction = f"{abs(cents):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{NNBSP.join(groups)},{fraction}{NNBSP}€"


def need_labels(needs: Iterable[NeedRef]) -> list[str]:
    return [f"{THEME_LABELS[n.theme]} — {PHASE_LABELS[n.phase]}" for n in needs]
