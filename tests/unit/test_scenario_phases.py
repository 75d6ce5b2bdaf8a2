"""The demo's chained phases are drawn from the seed: the same seed, the same projects go
on; the Les Communs summary lists phases and statuses in their published order."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.refdata import get_territories
from stack.scenario.phases import _order, goes_on
from stack.scenario.plan import plan


def test_the_seed_decides_which_projects_go_on() -> None:
    demandes = plan(
        7, 60, ("49", "35"), get_territories(), datetime(2026, 12, 2, tzinfo=UTC).date()
    )
    first = [goes_on(7, d) for d in demandes]
    assert first == [goes_on(7, d) for d in demandes]
    assert 0 < sum(first) < len(first)
    assert first != [goes_on(8, d) for d in demandes]


def test_les_communs_phases_and_statuses_in_their_order() -> None:
    keys = [
        ("Opération", "Terminé"),
        ("Étude", "Bloqué"),
        ("Idée", "En cours"),
        ("Étude", "En cours"),
    ]
    assert sorted(keys, key=_order) == [
        ("Idée", "En cours"),
        ("Étude", "En cours"),
        ("Étude", "Bloqué"),
        ("Opération", "Terminé"),
    ]
