"""The demo's chained phases are drawn from the seed: the same seed, the same projects go
on; the Les Communs summary lists phases and statuses in their published order."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.refdata import get_territories
from stack.scenario.phases import NextPhase, _next_phases_line, _order, goes_on
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


def test_the_next_phases_line_says_where_they_went() -> None:
    assert _next_phases_line([]) == "aucune"
    opened = [
        NextPhase("49", "a", "conception", "acteur pilote", "proposed"),
        NextPhase("49", "b", "travaux", "équipe du département", "unmatched"),
        NextPhase("35", "c", "conception", "acteur pilote", "proposed"),
    ]
    assert _next_phases_line(opened) == (
        "3 (35 : 1, 49 : 2) ; vers Travaux / réalisation 1, Études / conception 2 ; "
        "par acteur pilote 2, équipe du département 1 ; routées : acteur proposé 2, sans acteur 1"
    )
