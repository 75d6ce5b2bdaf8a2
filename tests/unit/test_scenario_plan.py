"""The demo scenario is a function of its seed: the same seed plans the same demandes and
the same answers, whatever the timing of the run that plays them."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

from shared.refdata import get_territories
from stack.scenario.plan import Answer, answer, days_spent, plan

DEPARTEMENTS = ("49", "35", "24")
TODAY = date(2026, 12, 2)


def decisions(seed: int) -> list[tuple[object, ...]]:
    """Every planned demande with every answer and completion its actors could give."""
    out: list[tuple[object, ...]] = []
    for demande in plan(seed, 300, DEPARTEMENTS, get_territories(), TODAY):
        for actor_id in ("atd-49", "caue-49", "sem-35"):
            for round_ in (1, 2):
                for first in (True, False):
                    out.append(
                        (
                            demande,
                            actor_id,
                            round_,
                            first,
                            answer(seed, demande, actor_id, round_, first),
                            days_spent(seed, demande, actor_id),
                        )
                    )
    return out


def test_the_same_seed_gives_the_same_plan_and_answers() -> None:
    assert decisions(42) == decisions(42)


def test_another_seed_gives_other_demandes() -> None:
    first = plan(42, 30, DEPARTEMENTS, get_territories(), TODAY)
    other = plan(43, 30, DEPARTEMENTS, get_territories(), TODAY)
    assert [d.request_id for d in first] != [d.request_id for d in other]
    assert [d.body for d in first] != [d.body for d in other]


def test_the_plan_is_shared_fairly_and_identified() -> None:
    planned = plan(2026, 300, DEPARTEMENTS, get_territories(), TODAY)
    assert [d.index for d in planned] == list(range(300))
    assert Counter(d.departement for d in planned) == dict.fromkeys(DEPARTEMENTS, 100)
    assert len({d.request_id for d in planned}) == 300
    # One in twenty withdrawn per département; about one in five filed as an event.
    assert Counter(d.departement for d in planned if d.withdrawn) == dict.fromkeys(DEPARTEMENTS, 5)
    assert 30 <= sum(d.by_event for d in planned) <= 90


def test_replacements_are_accepted_and_one_proposal_at_most_expires() -> None:
    planned = plan(7, 300, DEPARTEMENTS, get_territories(), TODAY)
    answers = Counter(answer(7, d, "atd-49", 1, first=True) for d in planned)
    assert set(answers) == set(Answer)
    assert all(answer(7, d, "atd-49", 2, first=True) is Answer.ACCEPT for d in planned)
    assert all(answer(7, d, "atd-49", 1, first=False) is not Answer.LET_EXPIRE for d in planned)
    days = [days_spent(7, d, "atd-49") for d in planned]
    assert None in days
    assert all(x is None or Decimal(1) <= x <= Decimal(30) for x in days)
