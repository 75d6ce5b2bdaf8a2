"""Who hears what, and the pure rules around it: ids, preferences, retries, signatures,
French wording."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.notifications.domain import rules
from services.notifications.domain.delivery import (
    DeliveryFailed,
    GiveUp,
    Retry,
    RetryPolicy,
    after_failure,
    http_failure,
    smtp_failure,
)
from services.notifications.domain.model import (
    Channel,
    DeliveryStatus,
    Digest,
    Kind,
    PreferenceError,
    Preferences,
    Role,
    notification_id,
    preferences,
)
from services.notifications.domain.rules import DemandeCard, Known, Subscription, Unresolved
from services.notifications.domain.webhook import body_of, cloud_event, signature
from shared.contracts.billing import InvoiceIssued, LineRef
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
    CriteriaRef,
    NeedRef,
    RequestUnmatched,
)
from shared.contracts.requests import Contact, Requester, RequestSubmitted, RequestWithdrawn
from shared.contracts.vocabulary import Phase, RequesterKind, Theme

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
REQUEST = uuid.UUID("5f0e2c9a-8c61-4a53-b0a3-0a7d6a3c1e52")
ASSIGNMENT = uuid.UUID("8c1d0000-0000-4000-8000-000000000001")
TEAM = "equipe-49@departement.example.fr"
CARD = DemandeCard(
    request_id=REQUEST,
    departement="49",
    requester_code="49007",
    requester_name="Angers",
    contact_name="Marie Dupont",
    contact_email="marie.dupont@example.fr",
    title="Réhabilitation de la salle des fêtes",
)
NEED = NeedRef(theme=Theme.BATIMENTS_PUBLICS, phase=Phase.FAISABILITE)


def submitted() -> RequestSubmitted:
    return RequestSubmitted(
        request_id=REQUEST,
        departement="49",
        requester=Requester(kind=RequesterKind.COMMUNE, code="49007", name="Angers", population=1),
        contact=Contact(name="Marie Dupont", email="marie.dupont@example.fr"),
        title="Réhabilitation de la salle des fêtes",
        description="Diagnostic et programme de travaux.",
        themes=[Theme.BATIMENTS_PUBLICS],
        phase=Phase.FAISABILITE,
        channel="api",
        submitted_at=NOW,
    )


def proposed(**overrides: object) -> AssignmentProposed:
    values: dict[str, object] = {
        "assignment_id": ASSIGNMENT,
        "request_id": REQUEST,
        "departement": "49",
        "actor_id": "caue49",
        "actor_name": "CAUE de Maine-et-Loire",
        "requester_code": "49007",
        "actor_kind": "caue",
        "needs": [NEED],
        "lead": True,
        "round": 1,
        "criteria": CriteriaRef(
            coverage=1, expertise=1, load=1, continuity=0, locality=1, score=0.9
        ),
        "reasons": "Couvre 1 besoin sur 1.",
        "respond_by": datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        "proposed_at": NOW,
    }
    return AssignmentProposed.model_validate(values | overrides)


def invoice(request_id: uuid.UUID | None = REQUEST) -> InvoiceIssued:
    return InvoiceIssued(
        document_id=uuid.uuid4(),
        number="49-2027-000042",
        departement="49",
        year=2027,
        collectivite_code="49007",
        collectivite_kind=RequesterKind.COMMUNE,
        collectivite_name="Angers",
        lines=[
            LineRef(
                kind="mission",
                label="Mission",
                quantity=Decimal("3.5"),
                unit="jour",
                unit_price=Decimal("350"),
                amount_excl_tax=Decimal("1225.00"),
                vat_rate=Decimal("0"),
                vat_amount=Decimal("0"),
                amount_incl_tax=Decimal("1225.00"),
            )
        ],
        total_excl_tax=Decimal("1225.00"),
        total_vat=Decimal("0"),
        total_incl_tax=Decimal("1225.00"),
        issued_at=NOW,
        invoice_kind="mission",
        tariff_version=1,
        request_id=request_id,
        assignment_id=ASSIGNMENT,
    )


def known(**overrides: object) -> Known:
    values: dict[str, object] = {"departement": "49", "team_address": TEAM, "demande": CARD}
    return Known(**(values | overrides))  # type: ignore[arg-type]


def who(planned: list[rules.Planned]) -> list[tuple[Kind, Role, str | None]]:
    return [(p.kind, p.role, p.address) for p in planned]


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
            AssignmentAccepted(
                assignment_id=ASSIGNMENT,
                request_id=REQUEST,
                departement="49",
                actor_id="caue49",
                actor_name="CAUE",
                accepted_at=NOW,
            ),
            Kind.MISSION_ACCEPTEE,
        ),
        (
            AssignmentCompleted(
                assignment_id=ASSIGNMENT,
                request_id=REQUEST,
                departement="49",
                actor_id="caue49",
                actor_name="CAUE",
                actor_kind="caue",
                requester_code="49007",
                requester_kind=RequesterKind.COMMUNE,
                needs=[NEED],
                days_spent=Decimal("3.5"),
                started_at=NOW,
                completed_at=NOW,
            ),
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
    unmatched = RequestUnmatched(
        request_id=REQUEST,
        departement="49",
        requester_code="49007",
        uncovered_needs=[NEED],
        reasons=["caue49 : capacité atteinte"],
        summary_text="Aucun acteur disponible.",
        unmatched_at=NOW,
    )
    expired = AssignmentExpired(
        assignment_id=ASSIGNMENT,
        request_id=REQUEST,
        departement="49",
        actor_id="caue49",
        actor_name="CAUE",
        respond_by=NOW,
        expired_at=NOW,
    )
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
    declined = AssignmentDeclined(
        assignment_id=ASSIGNMENT,
        request_id=REQUEST,
        departement="49",
        actor_id="caue49",
        actor_name="CAUE",
        declined_at=NOW,
    )
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
    planned = rules.reminder(
        departement="49",
        request_id=REQUEST,
        actor_id="caue49",
        actor_name="CAUE",
        respond_by=NOW,
        actor_address=None,
        demande=CARD,
    )
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
    notice = rules.dead_letter_notice(
        departement="49",
        team_address=TEAM,
        failed_kind=Kind.WEBHOOK,
        failed_role=Role.SUBSCRIBER,
        channel="webhook",
        reason="http_500",
        attempts=8,
        source_event_type="matching.assignment.proposed.v1",
        source_event_id="0b6c3f7e-5d0a-4c39-9a51-2f1f8c1f9d11",
        subscription_id=None,
    )
    assert (notice.kind, notice.address) == (Kind.LIVRAISON_EN_ECHEC, TEAM)
    assert notice.context["motif"] == "http_500"


# --- never twice ------------------------------------------------------------------------


def test_notification_id_is_stable_and_distinct_per_recipient_and_channel() -> None:
    event = str(uuid.uuid4())
    first = notification_id(event, "actor:caue49", Channel.EMAIL)
    assert first == notification_id(event, "actor:caue49", Channel.EMAIL)
    assert first.version == 5
    assert (
        len(
            {
                first,
                notification_id(event, "actor:atd49", Channel.EMAIL),
                notification_id(event, "actor:caue49", Channel.WEBHOOK),
                notification_id(str(uuid.uuid4()), "actor:caue49", Channel.EMAIL),
            }
        )
        == 4
    )


# --- preferences ------------------------------------------------------------------------


def test_opting_out_and_digest_apply_to_non_essential_messages_only() -> None:
    chosen = preferences([Kind.DEMANDE_RECUE], Digest.DAILY)
    assert chosen.status_for(Kind.DEMANDE_RECUE) == (DeliveryStatus.SKIPPED, "opted_out")
    assert chosen.status_for(Kind.ACTEUR_PROPOSE) == (DeliveryStatus.HELD, None)
    assert chosen.status_for(Kind.FACTURE_EMISE) == (DeliveryStatus.PENDING, None)
    assert chosen.status_for(Kind.NOUVELLE_PROPOSITION) == (DeliveryStatus.PENDING, None)
    assert Preferences().status_for(Kind.DEMANDE_RECUE) == (DeliveryStatus.PENDING, None)


def test_nobody_opts_out_of_an_essential_message() -> None:
    with pytest.raises(PreferenceError, match="« Facture émise »"):
        preferences([Kind.FACTURE_EMISE, Kind.DEMANDE_RECUE], Digest.NONE)


# --- retries ----------------------------------------------------------------------------


def test_backoff_is_exponential_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=30, max_seconds=600, jitter=0.5)
    assert [policy.delay(n, 0.0) for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]
    assert [policy.delay(n, 0.999999) for n in (1, 2)] == pytest.approx([15, 30], rel=1e-5)
    assert policy.lowest_delay(3) == 60


def test_retry_until_the_last_attempt_then_dead_letter() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=1, jitter=0)
    timeout = DeliveryFailed("timeout")
    assert after_failure(policy, 1, timeout, NOW, 0.5) == Retry(NOW + timedelta(seconds=1))
    assert after_failure(policy, 2, timeout, NOW, 0.5) == Retry(NOW + timedelta(seconds=2))
    assert after_failure(policy, 3, timeout, NOW, 0.5) == GiveUp("timeout")


def test_a_permanent_failure_is_dead_lettered_at_once() -> None:
    refused = smtp_failure(550, "Mailbox unavailable")
    assert refused.permanent
    assert after_failure(RetryPolicy(), 1, refused, NOW, 0.5) == GiveUp("smtp_550")
    assert not smtp_failure(451, "later").permanent


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, None),
        (204, None),
        (500, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (301, "final"),
        (400, "final"),
        (401, "final"),
        (410, "final"),
    ],
)
def test_http_answers(status: int, outcome: str | None) -> None:
    failure = http_failure(status)
    if outcome is None:
        assert failure is None
    else:
        assert failure is not None and failure.reason == f"http_{status}"
        assert failure.permanent is (outcome == "final")


# --- webhooks ---------------------------------------------------------------------------


def test_structured_cloud_event_and_its_signature() -> None:
    event = cloud_event(
        event_id="0b6c3f7e-5d0a-4c39-9a51-2f1f8c1f9d11",
        event_type="requests.request.submitted.v1",
        source="requests",
        time=NOW,
        departement="49",
        data={"request_id": str(REQUEST), "title": "Réhabilitation"},
        correlation_id="corr-1",
    )
    assert list(event) == [
        "specversion",
        "id",
        "type",
        "source",
        "time",
        "datacontenttype",
        "departement",
        "correlationid",
        "data",
    ]
    assert (event["specversion"], event["time"], event["datacontenttype"]) == (
        "1.0",
        "2026-11-25T10:00:00Z",
        "application/json",
    )
    body = body_of(event)
    assert json.loads(body)["data"]["title"] == "Réhabilitation"
    header = signature("s3cret-s3cret-s3cret", body, 1764064800)
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1764064800." + body, hashlib.sha256)
    assert header == f"t=1764064800,v1={expected.hexdigest()}"
    assert header != signature("s3cret-s3cret-s3cret", body + b" ", 1764064800)


# --- French -----------------------------------------------------------------------------


def test_dates_and_amounts_in_french_in_paris_time() -> None:
    def reminded(respond_by: datetime) -> str:
        planned = rules.reminder(
            departement="49",
            request_id=REQUEST,
            actor_id="caue49",
            actor_name="CAUE",
            respond_by=respond_by,
            actor_address="caue@example.fr",
            demande=CARD,
        )
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
