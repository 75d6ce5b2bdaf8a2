"""Who hears of a mission's course: the collectivité of each milestone done and each
deliverable; the collectivité, the actor and the team of a hand-over."""

from __future__ import annotations

from services.notifications.domain import rules
from services.notifications.domain.model import Kind, Role
from services.notifications.domain.rules import Known
from tests.unit.mission_events import deliverable_added, milestone_done, reassigned
from tests.unit.notification_events import CARD, TEAM

KNOWN = Known("49", TEAM, CARD, "contact@caue49.fr")


def test_a_milestone_done_is_told_to_the_collectivite_in_french() -> None:
    [planned] = rules.plan(milestone_done(), KNOWN)
    assert (planned.kind, planned.role, planned.address) == (
        Kind.JALON_REMIS,
        Role.REQUESTER,
        "marie.dupont@example.fr",
    )
    context = planned.context
    assert context["jalon"] == "Diagnostic remis"
    assert context["echeance"] == "20 novembre 2026"
    assert context["en_retard"] is True
    assert context["livrables"] == ["diagnostic.pdf (1,2\u00a0Mo)"]
    assert context["jalons_restants"] == 2


def test_a_deliverable_added_is_told_to_the_collectivite_with_its_link() -> None:
    [planned] = rules.plan(deliverable_added(), KNOWN)
    assert (planned.kind, planned.role) == (Kind.LIVRABLE_AJOUTE, Role.REQUESTER)
    assert planned.context["taille"] == "12,3\u00a0ko"
    assert planned.context["lien"].endswith("/deliverables/x")


def test_a_hand_over_is_told_to_everyone_concerned() -> None:
    planned = rules.plan(reassigned(), KNOWN)
    assert {(p.role, p.address) for p in planned} == {
        (Role.REQUESTER, "marie.dupont@example.fr"),
        (Role.ACTOR, "contact@caue49.fr"),
        (Role.TEAM, TEAM),
    }
    assert {p.kind for p in planned} == {Kind.MISSION_REAFFECTEE}
    assert planned[0].context["nouvel_agent"] == "Léa Roux"


def test_without_the_demande_yet_the_collectivite_s_message_waits() -> None:
    [planned] = rules.plan(milestone_done(), Known("49", TEAM, None, None))
    assert planned.unresolved is rules.Unresolved.AWAITING_DEMANDE
