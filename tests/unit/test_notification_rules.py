"""Who hears what (the rules' table), reminders and follow-ups, and their wording in French."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.notifications.domain import rules
from services.notifications.domain.model import (
    Kind,
    Role,
)
from services.notifications.domain.rules import Subscription, Unresolved
from shared.contracts.requests import RequestWithdrawn
from tests.support import events
from tests.unit.notification_events import (
    ASSIGNMENT,
    CARD,
    NOW,
    REQUEST,
    TEAM,
    dead_letter_notice,
    invoice,
    known,
    proposed,
    reminder,
    submitted,
    who,
)

# --- who hears what ---------------------------------------------------------------------


def test_a_new_demande_is_acknowledged_to_its_contact() -> None:
    [message] = rules.plan(submitted(), known())
    assert (message.kind, message.role, message.address) == (
        Kind.DEMANDE_RECUE,
        Role.REQUESTER,
        "marie.dupont@example.fr",
    )
    assert message.recipient == f"requester:{REQUEST}"
    assert message.context["themes"] == ["Bâtiments publics"]
    assert message.context["soumise_le"] == "25 novembre 2026 à 11 h 00"


def test_a_proposal_tells_the_requester_and_the_actor() -> None:
    planned = rules.plan(proposed(), known(actor_address="contact@caue49.fr"))
    assert who(planned) == [
        (Kind.ACTEUR_PROPOSE, Role.REQUESTER, "marie.dupont@example.fr"),
        (Kind.NOUVELLE_PROPOSITION, Role.ACTOR, "contact@caue49.fr"),
    ]
    actor = planned[1]
    assert actor.recipient == "actor:caue49"
    assert actor.context["repondre_avant"] == "2 décembre 2026 à 11 h 00"
    assert actor.context["besoins"] == ["Bâtiments publics — Faisabilité / programmation"]


def test_an_actor_without_address_is_skipped_with_a_reason() -> None:
    planned = rules.plan(proposed(), known())
    assert planned[1].address is None
    assert planned[1].unresolved is Unresolved.NO_ACTOR_CONTACT


def test_a_proposal_that_overtakes_its_demande_waits_for_the_address() -> None:
    planned = rules.plan(proposed(), known(demande=None, actor_address="contact@caue49.fr"))
    requester = planned[0]
    assert requester.address is None
    assert requester.unresolved is Unresolved.AWAITING_DEMANDE
    assert requester.request_id == REQUEST
    # Filled in when the demande arrives.
    assert requester.context["demande_titre"] is None
    assert requester.context["collectivite"] == "49007"
    assert rules.demande_context(CARD)["demande_titre"] == CARD.title


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (
            events.assignment_accepted(assignment_id=ASSIGNMENT, request_id=REQUEST),
            Kind.MISSION_ACCEPTEE,
        ),
        (
            events.assignment_completed(assignment_id=ASSIGNMENT, request_id=REQUEST),
            Kind.MISSION_TERMINEE,
        ),
    ],
)
def test_acceptance_and_completion_go_to_the_requester(event: object, kind: Kind) -> None:
    [message] = rules.plan(event, known())  # type: ignore[arg-type]
    assert (message.kind, message.role, message.address) == (
        kind,
        Role.REQUESTER,
        CARD.contact_email,
    )


def test_unmatched_and_expired_go_to_the_departement_team() -> None:
    unmatched = events.request_unmatched(request_id=REQUEST, unmatched_at=NOW)
    expired = events.assignment_expired(assignment_id=ASSIGNMENT, request_id=REQUEST)
    assert who(rules.plan(unmatched, known())) == [(Kind.DEMANDE_SANS_ACTEUR, Role.TEAM, TEAM)]
    assert who(rules.plan(expired, known())) == [(Kind.PROPOSITION_EXPIREE, Role.TEAM, TEAM)]
    assert rules.plan(unmatched, known())[0].recipient == "team:49"


def test_an_invoice_goes_to_the_collectivite_contact_else_to_the_team() -> None:
    [to_contact] = rules.plan(invoice(), known())
    assert (to_contact.role, to_contact.address) == (Role.REQUESTER, CARD.contact_email)
    assert to_contact.context["montant_ttc"] == "1\u202f225,00\u00a0€"
    [to_team] = rules.plan(invoice(request_id=None), known(demande=None))
    assert (to_team.kind, to_team.role, to_team.address) == (Kind.FACTURE_EMISE, Role.TEAM, TEAM)
    assert to_team.unresolved is None


def test_events_without_a_rule_send_no_email() -> None:
    withdrawn = RequestWithdrawn(
        request_id=REQUEST, departement="49", requester_code="49007", withdrawn_at=NOW
    )
    declined = events.assignment_declined(assignment_id=ASSIGNMENT, request_id=REQUEST)
    assert rules.plan(withdrawn, known()) == []
    assert rules.plan(declined, known()) == []


def test_every_kind_of_the_table_has_a_recipient_and_the_table_is_readable() -> None:
    kinds = {rule.kind for table in rules.WHO_HEARS_WHAT.values() for rule in table}
    assert kinds | set(rules.SCHEDULED) == set(Kind) - {Kind.WEBHOOK}


def test_webhook_subscribers_by_type_and_departement() -> None:
    mine = Subscription(uuid.uuid4(), "49", frozenset({"matching.assignment.proposed.v1"}))
    everywhere = Subscription(uuid.uuid4(), None, frozenset({"matching.assignment.proposed.v1"}))
    other_type = Subscription(uuid.uuid4(), "49", frozenset({"billing.invoice.issued.v1"}))
    other_dep = Subscription(uuid.uuid4(), "44", frozenset({"matching.assignment.proposed.v1"}))
    removed = Subscription(
        uuid.uuid4(), "49", frozenset({"matching.assignment.proposed.v1"}), active=False
    )
    found = rules.subscribers(
        [mine, everywhere, other_type, other_dep, removed], "matching.assignment.proposed.v1", "49"
    )
    assert found == [mine, everywhere]


# --- reminders and follow-ups -----------------------------------------------------------


def test_reminder_comes_n_hours_before_the_deadline_unless_too_close() -> None:
    respond_by = NOW + timedelta(days=7)
    assert rules.reminder_at(NOW, respond_by, timedelta(hours=24)) == respond_by - timedelta(
        hours=24
    )
    assert rules.reminder_at(NOW, NOW + timedelta(hours=12), timedelta(hours=24)) is None


def test_reminder_without_actor_address_is_unresolved() -> None:
    planned = reminder()
    assert (planned.kind, planned.role, planned.unresolved) == (
        Kind.RAPPEL_REPONSE,
        Role.ACTOR,
        Unresolved.NO_ACTOR_CONTACT,
    )


def test_follow_up_asks_the_requester_where_the_project_stands() -> None:
    planned = rules.follow_up(CARD, NOW)
    assert (planned.kind, planned.address) == (Kind.OU_EN_ETES_VOUS, CARD.contact_email)
    assert planned.context["derniere_nouvelle"] == "25 novembre 2026"


def test_the_date_of_last_news_is_the_day_in_paris() -> None:
    # 22:28 UTC on 13 October is 00:28 on the 14th in Paris (summer time).
    planned = rules.follow_up(CARD, datetime(2026, 10, 13, 22, 28, tzinfo=UTC))
    assert planned.context["derniere_nouvelle"] == "14 octobre 2026"


def test_a_failed_failure_notice_is_not_announced_again() -> None:
    assert rules.tells_team_of_failure(Kind.WEBHOOK)
    assert rules.tells_team_of_failure(Kind.DEMANDE_RECUE)
    assert not rules.tells_team_of_failure(Kind.LIVRAISON_EN_ECHEC)
    notice = dead_letter_notice()
    assert (notice.kind, notice.address) == (Kind.LIVRAISON_EN_ECHEC, TEAM)
    assert notice.context["motif"] == "http_500"


# --- French -----------------------------------------------------------------------------


def test_dates_and_amounts_in_french_in_paris_time() -> None:
    def reminded(respond_by: datetime) -> str:
        planned = reminder(respond_by=respond_by, actor_address="caue@example.fr")
        return str(planned.context["repondre_avant"])

    # Paris time, summer and winter.
    assert reminded(datetime(2026, 7, 1, 7, 5, tzinfo=UTC)) == "1er juillet 2026 à 9 h 05"
    assert reminded(datetime(2026, 12, 2, 23, 30, tzinfo=UTC)) == "3 décembre 2026 à 0 h 30"
    # shared.french's money: narrow no-break space between thousands, no-break space before €.
    big = invoice().model_copy(
        update={"total_excl_tax": Decimal("180000.5"), "total_incl_tax": Decimal("216000.6")}
    )
    [to_contact] = rules.plan(big, known())
    assert to_contact.context["montant_ht"] == "180\u202f000,50\u00a0€"
    assert to_contact.context["montant_ttc"] == "216\u202f000,60\u00a0€"
