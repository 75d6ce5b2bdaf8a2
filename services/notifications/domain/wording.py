"""How needs are named in the messages. Numbers, money and dates are written by
:mod:`shared.french`, as in every service."""

from __future__ import annotations

from collections.abc import Iterable

from shared.contracts.matching import NeedRef
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS


def need_labels(needs: Iterable[NeedRef]) -> list[str]:
    return [f"{THEME_LABELS[n.theme]} — {PHASE_LABELS[n.phase]}" for n in needs]
